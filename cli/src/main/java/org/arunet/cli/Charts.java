package org.arunet.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.arunet.train.EpochSummary;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Training curves as PNG (XChart): loss (training and validation) and validation Dice per epoch. In the
 * CLI, where the curves are drawn: the library does not depend on a plotting library ({@code
 * TrainingResult.history()} holds the numbers).
 */
final class Charts {
    private Charts() {}

    /** Writes {@code loss.png} and {@code dice.png} into {@code dir}; returns their paths. */
    static List<Path> writeCurves(List<EpochSummary> history, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path loss = dir.resolve("loss.png");
        Path dice = dir.resolve("dice.png");
        XYChart l = chart("Loss per epoch", "loss");
        add(l, "training", history, EpochSummary::trainLoss);
        add(l, "validation", history, EpochSummary::valLoss);
        save(l, loss);
        XYChart d = chart("Validation lesion Dice and IoU per epoch", "score");
        add(d, "Dice", history, EpochSummary::valDice);
        add(d, "IoU", history, EpochSummary::valIou);
        d.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
        save(d, dice);
        return List.of(loss, dice);
    }

    private static XYChart chart(String title, String yLabel) {
        XYChart c = new XYChartBuilder()
                .width(800)
                .height(450)
                .title(title)
                .xAxisTitle("epoch")
                .yAxisTitle(yLabel)
                .build();
        c.getStyler()
                .setMarkerSize(5)
                .setChartBackgroundColor(java.awt.Color.WHITE)
                .setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
        return c;
    }

    private static void add(XYChart c, String name, List<EpochSummary> h, ToDoubleFunction<EpochSummary> f) {
        double[] x = h.stream()
                .filter(e -> Double.isFinite(f.applyAsDouble(e)))
                .mapToDouble(e -> e.epoch() + 1)
                .toArray();
        double[] y = h.stream().mapToDouble(f).filter(Double::isFinite).toArray();
        if (x.length == 0) {
            return;
        }
        XYSeries s = c.addSeries(name, x, y);
        s.setMarker(SeriesMarkers.CIRCLE);
    }

    private static void save(XYChart c, Path file) throws IOException {
        String name = file.toString();
        BitmapEncoder.saveBitmap(c, name.substring(0, name.length() - 4), BitmapEncoder.BitmapFormat.PNG);
    }
}
