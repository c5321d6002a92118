/**
 * Pictures: contour overlays of predictions and ground truth ({@link org.arunet.report.Overlays}).
 * (Training curves are drawn by the command-line tool, which holds the plotting library.)
 */
package org.arunet.report;
