/**
 * Pictures: training curves ({@link org.arunet.report.Charts}) and contour overlays
 * ({@link org.arunet.report.Overlays}).
 */
package org.arunet.report;
