package org.arunet.cli;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.data.augment.Augmentation;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.loader.LoaderConfig;
import org.arunet.data.loader.SegmentationBatchSource;
import org.arunet.data.split.Split;
import org.arunet.eval.Evaluation;
import org.arunet.infer.Segmenter;
import org.arunet.model.SegmentationModel;
import org.arunet.train.EpochSummary;
import org.arunet.train.LossKind;
import org.arunet.train.Recipe;
import org.arunet.train.Trainer;
import org.arunet.train.TrainerConfig;
import org.arunet.train.TrainingResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        showDefaultValues = true,
        usageHelpAutoWidth = true,
        description = {
            "Train a model on your images and masks (Adam, cosine learning rate, CE + Dice loss, online"
                    + " augmentation, early stopping on validation loss), then evaluate the best checkpoint on the test"
                    + " split. --recipe paper trains exactly as the paper does.",
            "Writes into --out: config.json, split.json, checkpoints/last.safetensors (every epoch, atomically),"
                    + " checkpoints/best.safetensors, history.csv, loss.png, dice.png and test/ (report.json,"
                    + " per_image.csv, overlays/)."
        })
final class TrainCommand extends BaseCommand {
    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    ModelOptions model = new ModelOptions();

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/train", description = "Output folder.")
    Path out;

    @Option(names = "--epochs", defaultValue = "150", description = "Maximum epochs (150 in the authors' code).")
    int epochs;

    @Option(
            names = "--recipe",
            defaultValue = "standard",
            converter = EnumConverters.RecipeConverter.class,
            description = "Training recipe, the defaults of the options marked 'from --recipe': standard (arunet's,"
                    + " chosen by measurement: Adam 1e-3, no warm-up, cosine to 0, batch 8, PyTorch initialisation,"
                    + " random crop of 80-100 %%; docs/TRAINING-PARITY.md) or paper (the paper's protocol exactly: Adam"
                    + " 1e-4, batch 2, 3-epoch warm-up, cosine to 1e-6, N(0, 0.02) initialisation, 80 %% crop on every"
                    + " image).")
    Recipe recipe;

    @Option(names = "--batch-size", description = "Images per step. Default: from --recipe (standard: 8; paper: 2).")
    Integer batchSize;

    @Option(
            names = "--image-size",
            defaultValue = "256",
            description = "Network input side (multiple of 16);"
                    + " the paper uses 512, which needs a GPU to train in reasonable time.")
    int imageSize;

    @Option(
            names = "--channels",
            defaultValue = "3",
            description = "Input channels: 3 (grey replicated, colour kept)" + " or 1 (grey).")
    int channels;

    @Option(
            names = "--lr",
            description = "Peak learning rate (Adam). Default: from --recipe (standard: 1e-3;" + " paper: 1e-4).")
    Float lr;

    @Option(
            names = "--min-lr",
            description = "Final learning rate of the cosine schedule. Default: from --recipe"
                    + " (standard: 0; paper: 1e-6).")
    Float minLr;

    @Option(
            names = "--warmup-epochs",
            description =
                    "Quadratic warm-up epochs from 0.1 x lr. Default: from --recipe" + " (standard: 0; paper: 3).")
    Integer warmup;

    @Option(
            names = "--loss",
            defaultValue = "ce-dice",
            converter = EnumConverters.LossConverter.class,
            description = "Loss: ce-dice (paper) or focal-tversky.")
    LossKind loss;

    @Option(names = "--tversky-alpha", defaultValue = "0.7", description = "Focal Tversky weight of false negatives.")
    float tverskyAlpha;

    @Option(names = "--tversky-beta", defaultValue = "0.3", description = "Focal Tversky weight of false positives.")
    float tverskyBeta;

    @Option(names = "--tversky-gamma", defaultValue = "0.75", description = "Focal Tversky exponent.")
    float tverskyGamma;

    @Option(
            names = "--patience",
            defaultValue = "15",
            description = "Early stopping: epochs without a lower" + " validation loss (0 = off).")
    int patience;

    @Option(
            names = "--augment",
            negatable = true,
            defaultValue = "true",
            fallbackValue = "true",
            description = "Online augmentation: horizontal flip, rotation within 10 degrees, random crop resized back.")
    boolean augment;

    @Option(
            names = "--crop-scale",
            paramLabel = "MIN,MAX",
            split = ",",
            description = "Side of the random crop as a"
                    + " fraction of the image side, uniform in [MIN, MAX]. Default: from --recipe (standard: 0.8,1.0; paper:"
                    + " 0.8,0.8, a fixed 80 %% crop).")
    List<Double> cropScale;

    @Option(names = "--crop-probability", description = "Probability that an image is cropped. Default: 1.")
    Double cropProbability;

    @Option(
            names = "--loader-threads",
            defaultValue = "2",
            description = "Background threads decoding and" + " augmenting images.")
    int loaderThreads;

    @Mixin
    ComputeOptions compute = new ComputeOptions();

    @Option(
            names = "--seed",
            defaultValue = "42",
            description = "Seed of the split, initialisation, shuffling and" + " augmentation.")
    long seed;

    @Option(names = "--resume", description = "Continue from checkpoints/last.safetensors in --out.")
    boolean resume;

    @Option(names = "--force", description = "Overwrite an earlier run in --out.")
    boolean force;

    @Option(
            names = "--eval-test",
            negatable = true,
            defaultValue = "true",
            fallbackValue = "true",
            description = "Evaluate the best checkpoint on the test split at the end.")
    boolean evalTest;

    @Option(names = "--overlays", defaultValue = "16", description = "Test images to draw overlays for.")
    int overlays;

    /** What the last run produced (for {@link DemoCommand}). */
    Map<String, Object> summary;

    List<EpochSummary> history;

    @Override
    int run() throws Exception {
        if (imageSize % 16 != 0 || imageSize < 16) {
            throw new Errors.UsageException("--image-size must be a positive multiple of 16, got " + imageSize);
        }
        applyRecipe();
        prepareOut(out, resume ? null : "checkpoints/last.safetensors", force);
        if (resume && !Files.exists(out.resolve("checkpoints").resolve(Trainer.LAST))) {
            throw new IllegalArgumentException(
                    "--resume: no checkpoint at " + out.resolve("checkpoints").resolve(Trainer.LAST));
        }
        SegmentationDataset ds = data.scan();
        Split split = data.split(ds, out.resolve("split.json"), seed);
        Split.Parts parts = split.select(ds);
        info().printf(
                        "dataset %s: %d images (%s); split %s: train %d, val %d, test %d; %d duplicate groups kept"
                                + " together%n",
                        ds.root(),
                        ds.size(),
                        ds.countByLabel(),
                        split.hash().substring(0, 12),
                        parts.train().size(),
                        parts.val().size(),
                        parts.test().size(),
                        split.duplicateGroups());
        if (parts.train().isEmpty()) {
            throw new IllegalArgumentException("the split has no training images");
        }
        writeEffectiveConfig(out);
        TrainerConfig tc = recipe.trainerConfig()
                .withEpochs(epochs)
                .withBatchSize(batchSize)
                .withLearningRate(lr)
                .withMinLearningRate(Math.min(minLr, lr))
                .withWarmupEpochs(warmup)
                .withLoss(loss)
                .withTversky(tverskyAlpha, tverskyBeta, tverskyGamma)
                .withPatience(patience);
        LoaderConfig base = LoaderConfig.builder()
                .imageSize(imageSize)
                .channels(channels)
                .classes(data.classes)
                .seed(seed)
                .threads(loaderThreads)
                .build();
        LoaderConfig trainCfg = LoaderConfig.builder()
                .imageSize(imageSize)
                .channels(channels)
                .classes(data.classes)
                .seed(seed)
                .threads(loaderThreads)
                .augmentation(augmentation())
                .build();
        TrainingResult result;
        try (SegmentationBatchSource train = SegmentationBatchSource.open(parts.train(), trainCfg);
                SegmentationBatchSource val =
                        parts.val().isEmpty() ? null : SegmentationBatchSource.open(parts.val(), base);
                Backend be = compute.backend(true);
                SegmentationModel net = model.build(be, channels, data.classes, seed)) {
            if (val == null) {
                info().println("warning: no validation images: no early stopping, no best checkpoint");
            }
            info().printf(
                            Locale.ROOT,
                            "model %s, %,d parameters, %.2f GMAC per %dx%d image, backend %s%n",
                            net.architecture().get("arch"),
                            net.parameterCount(),
                            net.macs(imageSize, imageSize) / 1e9,
                            imageSize,
                            imageSize,
                            be.name());
            Trainer trainer = Trainer.on(net)
                    .config(tc)
                    .data(train, val)
                    .checkpointDir(out.resolve("checkpoints"))
                    .resume(resume)
                    .listener(new Progress(info(), json))
                    .provenance("dataset", ds.root().toAbsolutePath().toString())
                    .provenance("split_hash", split.hash())
                    .provenance("seed", Long.toString(seed))
                    .provenance("command", "arunet train")
                    .provenance("recipe", recipe.cliName())
                    .provenance("precision", compute.precision.name().toLowerCase(Locale.ROOT))
                    .provenance("augmentation", augmentation().toMap().toString());
            result = trainer.fit();
        }
        writeHistory(result.history(), out.resolve("history.csv"));
        List<Path> charts = Charts.writeCurves(result.history(), out);
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("out", out.toAbsolutePath().toString());
        summary.put("epochs_run", result.history().size());
        summary.put("stopped_early", result.stoppedEarly());
        summary.put("best_epoch", result.bestEpoch() + 1);
        summary.put("best_val_loss", result.bestValLoss());
        EpochSummary lastEpoch = result.history().isEmpty()
                ? null
                : result.history().get(result.history().size() - 1);
        summary.put("last_val_dice", lastEpoch == null ? null : lastEpoch.valDice());
        summary.put(
                "checkpoint_best",
                result.bestCheckpoint() == null ? null : result.bestCheckpoint().toString());
        summary.put("checkpoint_last", result.lastCheckpoint().toString());
        summary.put("curves", charts.stream().map(Path::toString).toList());
        if (evalTest && !parts.test().isEmpty()) {
            Path ckpt = result.bestCheckpoint() != null ? result.bestCheckpoint() : result.lastCheckpoint();
            info().printf(
                            "evaluating %s on %d test images%n",
                            ckpt, parts.test().size());
            try (Segmenter seg = Segmenter.builder(ckpt)
                    .device(compute.device)
                    .threads(compute.threads)
                    .precision(compute.precision)
                    .build()) {
                Evaluation ev = EvalRunner.run(seg, parts.test(), out.resolve("test"), overlays, info());
                EvalRunner.printHeadline(ev, info());
                summary.put("test", ev.summary());
            }
        }
        this.summary = summary;
        this.history = result.history();
        if (json) {
            printJson(summary);
        } else {
            info().printf("done: checkpoints in %s, curves %s%n", out.resolve("checkpoints"), charts);
        }
        return 0;
    }

    /** Fills the options left unset from --recipe, so that config.json records the values used. */
    void applyRecipe() {
        TrainerConfig r = recipe.trainerConfig();
        Augmentation a = recipe.augmentation();
        batchSize = batchSize != null ? batchSize : r.batchSize();
        lr = lr != null ? lr : r.learningRate();
        minLr = minLr != null ? minLr : Math.min(r.minLearningRate(), lr);
        warmup = warmup != null ? warmup : r.warmupEpochs();
        model.init = model.init != null ? model.init : recipe.init();
        cropScale = cropScale != null ? cropScale : List.of(a.minCropScale(), a.maxCropScale());
        cropProbability = cropProbability != null ? cropProbability : a.cropProbability();
        augmentation(); // refuses bad crop settings before anything is written
    }

    Augmentation augmentation() {
        if (!augment) {
            return Augmentation.none();
        }
        if (cropScale.size() != 2) {
            throw new Errors.UsageException("--crop-scale needs two values MIN,MAX, got " + cropScale);
        }
        try {
            return recipe.augmentation()
                    .withCropScale(cropScale.get(0), cropScale.get(1))
                    .withCropProbability(cropProbability);
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException("--crop-scale/--crop-probability: " + e.getMessage());
        }
    }

    static void writeHistory(List<EpochSummary> h, Path file) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write("epoch,lr,train_loss,val_loss,val_dice,val_iou,seconds,images_per_second,data_wait_seconds,best\n");
            for (EpochSummary e : h) {
                w.write(String.format(
                        Locale.ROOT,
                        "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.2f,%.3f,%.3f,%s%n",
                        e.epoch() + 1,
                        e.learningRate(),
                        e.trainLoss(),
                        e.valLoss(),
                        e.valDice(),
                        e.valIou(),
                        e.seconds(),
                        e.imagesPerSecond(),
                        e.dataWaitSeconds(),
                        e.improved()));
            }
        }
    }
}
