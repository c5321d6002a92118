package org.arunet.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.arunet.data.dataset.Datasets;
import org.arunet.data.dataset.Sample;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.sample.BusiMini;
import org.arunet.data.split.Split;
import org.arunet.eval.Evaluation;
import org.arunet.infer.Segmenter;
import org.arunet.pretrained.PretrainedModels;
import org.arunet.train.EpochSummary;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        showDefaultValues = true,
        usageHelpAutoWidth = true,
        description = {
            "Train a compact ARU-Net on the bundled sample of real BUSI breast-ultrasound images (36"
                    + " benign and malignant pairs at 256 px), evaluate it on held-out images beside the shipped model"
                    + " busi-compact (trained on the full BUSI data set, never on these images), and write overlays,"
                    + " loss and Dice curves and metrics reports.",
            "It takes a few minutes on a 2-core machine. It shows the whole workflow on real data; a model good"
                    + " enough for use needs the full data set (arunet train --data ...), as the shipped one shows."
        })
final class DemoCommand extends BaseCommand {
    /** The shipped model shown beside the one the demo trains. */
    static final String SHIPPED = "busi-compact";

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "demo-output", description = "Output folder.")
    Path out;

    @Option(names = "--epochs", defaultValue = "60", description = "Training epochs.")
    int epochs;

    @Option(names = "--image-size", defaultValue = "128", description = "Network input side (multiple of 16).")
    int imageSize;

    @Option(
            names = "--width",
            defaultValue = "16",
            description = "Base channels of the compact ARU-Net (64 in the" + " paper).")
    int width;

    @Option(names = "--batch-size", defaultValue = "4", description = "Images per step.")
    int batchSize;

    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate (the standard recipe's).")
    float lr;

    @Mixin
    ComputeOptions compute = new ComputeOptions();

    @Option(
            names = "--shipped",
            negatable = true,
            defaultValue = "true",
            fallbackValue = "true",
            description = "Also segment the held-out images with the shipped model " + SHIPPED + " (trained on the"
                    + " full BUSI data set, which has none of the sample's images in its training part) and show it"
                    + " beside the model just trained.")
    boolean shipped;

    @Option(names = "--seed", defaultValue = "42", description = "Seed.")
    long seed;

    @Option(names = "--force", description = "Overwrite an earlier demo in --out.")
    boolean force;

    @Override
    int run() throws Exception {
        prepareOut(out, "checkpoints/last.safetensors", force);
        Path data = BusiMini.extractTo(out.resolve("data"));
        info().printf("bundled BUSI sample extracted to %s%n", data);
        TrainCommand train = new TrainCommand();
        List<String> args = new ArrayList<>(List.of(
                "--data",
                data.toString(),
                "--out",
                out.toString(),
                "--epochs",
                Integer.toString(epochs),
                "--image-size",
                Integer.toString(imageSize),
                "--width",
                Integer.toString(width),
                "--batch-size",
                Integer.toString(batchSize),
                "--lr",
                Float.toString(lr),
                "--recipe",
                "standard",
                "--patience",
                "0",
                "--device",
                compute.device,
                "--threads",
                Integer.toString(compute.threads),
                "--precision",
                compute.precision.name().toLowerCase(Locale.ROOT),
                "--seed",
                Long.toString(seed),
                "--overlays",
                "100",
                "--force"));
        if (json) {
            args.add("--json");
        }
        CommandLine cl = new CommandLine(train);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            throw ex;
        });
        PrintStreamGuard guard = new PrintStreamGuard(json);
        int rc;
        try {
            rc = cl.execute(args.toArray(new String[0]));
        } finally {
            guard.restore();
        }
        if (rc != 0) {
            return rc;
        }
        List<EpochSummary> h = train.history;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("out", out.toAbsolutePath().toString());
        r.put("epochs", h.size());
        r.put("val_dice_first_epoch", h.get(0).valDice());
        r.put(
                "val_dice_best",
                h.stream()
                        .mapToDouble(EpochSummary::valDice)
                        .filter(Double::isFinite)
                        .max()
                        .orElse(Double.NaN));
        r.put("val_dice_last", h.get(h.size() - 1).valDice());
        r.put("train_loss_first_epoch", h.get(0).trainLoss());
        r.put("train_loss_last", h.get(h.size() - 1).trainLoss());
        r.put("seconds", h.stream().mapToDouble(EpochSummary::seconds).sum());
        @SuppressWarnings("unchecked")
        Map<String, Object> test = (Map<String, Object>) train.summary.get("test");
        r.put("test", test);
        r.put("report", out.resolve("test").resolve("report.json").toString());
        r.put("overlays", out.resolve("test").resolve("overlays").toString());
        r.put(
                "curves",
                List.of(
                        out.resolve("loss.png").toString(),
                        out.resolve("dice.png").toString()));
        Map<String, Object> shippedTest = shipped ? evaluateShipped(data) : null;
        if (shippedTest != null) {
            r.put(
                    "shipped_model",
                    Map.of(
                            "name",
                            SHIPPED,
                            "test",
                            shippedTest,
                            "overlays",
                            out.resolve("shipped").resolve("overlays").toString()));
        }
        if (json) {
            printJson(r);
            return 0;
        }
        System.out.println();
        System.out.printf(
                Locale.ROOT,
                "ARU-Net (width %d, %dx%d) trained for %d epochs in %s on %s.%n",
                width,
                imageSize,
                imageSize,
                h.size(),
                Progress.duration((Double) r.get("seconds")),
                data);
        System.out.printf(
                Locale.ROOT,
                "validation lesion Dice: %.3f after epoch 1 -> %.3f at the end (best %.3f);"
                        + " training loss %.3f -> %.3f%n",
                r.get("val_dice_first_epoch"),
                r.get("val_dice_last"),
                r.get("val_dice_best"),
                r.get("train_loss_first_epoch"),
                r.get("train_loss_last"));
        if (test != null) {
            System.out.printf(
                    Locale.ROOT,
                    "held-out test images (%s): lesion Dice %.3f, IoU %.3f, paper-style mIoU"
                            + " %.3f, accuracy %.3f%n",
                    test.get("images"),
                    test.get("lesion_dice_mean"),
                    test.get("lesion_iou_mean"),
                    test.get("miou_paper"),
                    test.get("accuracy"));
        }
        if (shippedTest != null) {
            System.out.printf(
                    Locale.ROOT,
                    "the shipped model %s on the same images: lesion Dice %.3f, IoU %.3f,"
                            + " paper-style mIoU %.3f, accuracy %.3f (overlays: %s)%n",
                    SHIPPED,
                    shippedTest.get("lesion_dice_mean"),
                    shippedTest.get("lesion_iou_mean"),
                    shippedTest.get("miou_paper"),
                    shippedTest.get("accuracy"),
                    out.resolve("shipped").resolve("overlays"));
        }
        System.out.println("curves:   " + out.resolve("loss.png") + ", " + out.resolve("dice.png"));
        System.out.println(
                "overlays: " + out.resolve("test").resolve("overlays") + " (green = truth, red =" + " prediction)");
        System.out.println("report:   " + out.resolve("test").resolve("report.json"));
        System.out.println("model:    " + out.resolve("checkpoints").resolve("best.safetensors")
                + " (try: ./arunet predict --model ... <image>)");
        return 0;
    }

    /**
     * Evaluates the shipped model on the test part of the demo's split; null (with a note) when the
     * models artifact is not on the class path.
     */
    private Map<String, Object> evaluateShipped(Path data) throws java.io.IOException {
        PretrainedModels zoo = PretrainedModels.onClassPath();
        if (!zoo.contains(SHIPPED)) {
            info().println("(the shipped model " + SHIPPED + " is not on the class path: skipped)");
            return null;
        }
        SegmentationDataset ds = Datasets.scan(data);
        Split split = Split.load(out.resolve("split.json"), ds.root());
        List<Sample> test = split.select(ds).test();
        info().printf("segmenting the %d held-out images with the shipped model %s%n", test.size(), SHIPPED);
        try (Segmenter seg = Segmenter.builder(zoo.checkpoint(SHIPPED))
                .device(compute.device)
                .threads(compute.threads)
                .precision(compute.precision)
                .build()) {
            Evaluation ev = EvalRunner.run(seg, test, out.resolve("shipped"), 100, info());
            return ev.summary();
        }
    }

    /** With --json the inner train command must not print its own JSON on stdout; it is silenced. */
    private static final class PrintStreamGuard {
        private final java.io.PrintStream saved = System.out;

        PrintStreamGuard(boolean json) {
            if (json) {
                System.setOut(System.err);
            }
        }

        void restore() {
            System.setOut(saved);
        }
    }
}
