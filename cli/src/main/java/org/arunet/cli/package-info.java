/**
 * The {@code arunet} command (picocli): train, eval, predict, split, info, bench, demo — a thin layer
 * over the Java API.
 */
package org.arunet.cli;
