/**
 * The bundled 40-pair BUSI sample ({@link org.arunet.data.sample.BusiMini}) and the program that
 * makes it reproducibly from the shared BUSI copy ({@link org.arunet.data.sample.BusiMiniMaker}).
 */
package org.arunet.data.sample;
