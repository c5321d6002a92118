package org.arunet.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.arunet.data.dataset.Sample;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.split.Split;
import org.arunet.eval.Evaluation;
import org.arunet.eval.ImageScore;
import org.arunet.eval.PairedComparison;
import org.arunet.infer.Segmenter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        showDefaultValues = true,
        usageHelpAutoWidth = true,
        description = {
            "Evaluate a model (a shipped one by name, or a checkpoint) on images with masks, at each image's"
                    + " own size.",
            "Reports paper-compatible metrics (one confusion matrix over all pixels: accuracy, mIoU with background,"
                    + " precision, recall, F1) and lesion metrics (Dice and IoU per image, mean ± sd and pooled; HD95)."
                    + " Writes report.json, per_image.csv and overlays/ into --out. With --compare, also paired t-test and"
                    + " Wilcoxon signed-rank test between the two checkpoints' per-image scores."
        })
final class EvalCommand extends BaseCommand {
    @Mixin
    ModelRef model = new ModelRef();

    @Mixin
    DataOptions data = new DataOptions();

    @Option(
            names = "--part",
            defaultValue = "test",
            description = "Which part of the split: test, val, train, or all" + " (every image of --data, no split).")
    String part;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/eval", description = "Output folder.")
    Path out;

    @Option(
            names = "--overlays",
            defaultValue = "16",
            description = "Images to draw overlays for (ground truth green," + " prediction red).")
    int overlays;

    @Option(names = "--tta", description = "Average with the prediction of the mirrored image.")
    boolean tta;

    @Option(names = "--largest-component", description = "Keep only the largest predicted lesion.")
    boolean largest;

    @Option(
            names = "--compare",
            paramLabel = "NAME|FILE",
            description = "A second model (shipped name or checkpoint) to compare with (paired"
                    + " tests on per-image Dice, IoU, mIoU and accuracy).")
    String compare;

    @Mixin
    ComputeOptions compute = new ComputeOptions();

    @Option(names = "--seed", defaultValue = "42", description = "Seed for a new split (when none exists).")
    long seed;

    @Option(names = "--force", description = "Overwrite an earlier report in --out.")
    boolean force;

    @Override
    int run() throws Exception {
        Path checkpoint = model.checkpoint();
        prepareOut(out, "report.json", force);
        SegmentationDataset ds = data.scan();
        List<Sample> samples;
        if (part.equals("all")) {
            samples = ds.samples();
        } else {
            if (data.split == null) {
                throw new Errors.UsageException("--part " + part + " needs --split FILE (the split the model was"
                        + " trained with, e.g. runs/train/split.json); use --part all to evaluate every image");
            }
            Split split = data.split(ds, data.split, seed);
            Split.Parts p = split.select(ds);
            switch (part) {
                case "test" -> samples = p.test();
                case "val" -> samples = p.val();
                case "train" -> samples = p.train();
                default -> throw new Errors.UsageException("--part must be test, val, train or all, got " + part);
            }
        }
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("no images in part '" + part + "' of " + data.data);
        }
        writeEffectiveConfig(out);
        Evaluation ev;
        try (Segmenter seg = segmenter(checkpoint)) {
            info().printf("evaluating %s on %d images (%s)%n", model, samples.size(), part);
            ev = EvalRunner.run(seg, samples, out, overlays, info());
        }
        Map<String, Object> result = new LinkedHashMap<>(ev.summary());
        if (compare != null) {
            Path compareCheckpoint = ModelRef.resolve("--compare", compare);
            Evaluation other;
            try (Segmenter seg = segmenter(compareCheckpoint)) {
                info().printf("evaluating %s for comparison%n", compare);
                other = EvalRunner.run(seg, samples, out.resolve("compare"), 0, info());
            }
            result.put("comparison", compareScores(ev.images(), other.images()));
        }
        if (json) {
            printJson(result);
        } else {
            System.out.printf("%s on %d images (%s):%n", model, samples.size(), part);
            EvalRunner.printHeadline(ev, System.out);
            if (compare != null) {
                System.out.println("paired comparison with " + compare + ": " + result.get("comparison"));
            }
            System.out.println("report: " + out.resolve("report.json"));
        }
        return 0;
    }

    private Segmenter segmenter(Path ckpt) throws java.io.IOException {
        return Segmenter.builder(ckpt)
                .device(compute.device)
                .threads(compute.threads)
                .precision(compute.precision)
                .flipTta(tta)
                .largestComponent(largest)
                .build();
    }

    static Map<String, Object> compareScores(List<ImageScore> a, List<ImageScore> b) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(
                "dice",
                test(
                        a.stream().mapToDouble(ImageScore::dice).toArray(),
                        b.stream().mapToDouble(ImageScore::dice).toArray()));
        m.put(
                "iou",
                test(
                        a.stream().mapToDouble(ImageScore::iou).toArray(),
                        b.stream().mapToDouble(ImageScore::iou).toArray()));
        m.put(
                "miou",
                test(
                        a.stream().mapToDouble(ImageScore::meanIoU).toArray(),
                        b.stream().mapToDouble(ImageScore::meanIoU).toArray()));
        m.put(
                "accuracy",
                test(
                        a.stream().mapToDouble(ImageScore::pixelAccuracy).toArray(),
                        b.stream().mapToDouble(ImageScore::pixelAccuracy).toArray()));
        m.put("note", "A = --model, B = --compare; one-sided p tests mean(A - B) > 0");
        return m;
    }

    private static Map<String, Object> test(double[] a, double[] b) {
        PairedComparison c = PairedComparison.of(a, b);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("n", c.n());
        m.put("mean_difference", c.meanDifference());
        m.put("t", c.tStatistic());
        m.put("t_test_p_two_sided", c.tTestTwoSidedP());
        m.put("t_test_p_one_sided", c.tTestOneSidedP());
        m.put("wilcoxon_p", c.wilcoxonP());
        return m;
    }

    static String fmt(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }
}
