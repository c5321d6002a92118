/**
 * File formats: {@link org.arunet.io.SafeTensors}, hardened against hostile files and written
 * atomically.
 */
package org.arunet.io;
