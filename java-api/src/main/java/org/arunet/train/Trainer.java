package org.arunet.train;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.arunet.backend.Backend;
import org.arunet.data.Batch;
import org.arunet.data.BatchSource;
import org.arunet.eval.ImageScore;
import org.arunet.io.SafeTensors;
import org.arunet.model.SegmentationModel;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains a {@link SegmentationModel}: Adam, a per-epoch learning-rate schedule (warm-up, cosine,
 * floor), CE + Dice loss (or focal Tversky), validation after every epoch, early stopping on
 * validation loss keeping the best checkpoint. The settings default to the standard recipe
 * ({@link Recipe#STANDARD}); {@code config(Recipe.PAPER.trainerConfig())} trains as the paper does.
 *
 * <pre>{@code
 * TrainingResult r = Trainer.on(model).data(train, val).epochs(100)
 *         .checkpointDir(Path.of("runs/busi")).fit();
 * }</pre>
 *
 * <h2>Checkpoints and resuming</h2>
 * With a checkpoint folder, {@code last.safetensors} is written atomically after every epoch (model,
 * Adam moments, epoch, history, early-stopping state, configuration, provenance, and with fp16 mixed
 * precision the {@link LossScaler}'s state) and
 * {@code best.safetensors} whenever validation loss improves. {@link #resume(boolean)} continues from
 * {@code last.safetensors}: because every epoch's shuffling and augmentation depend only on the seed
 * and the epoch ({@link BatchSource}), and the CPU kernels are deterministic for a fixed thread count,
 * a resumed run ends with exactly the parameters of an uninterrupted one. Work lost by a crash is at
 * most the epoch in progress. A checkpoint without loss-scaler state (fp32 or bf16 training, or an
 * older file) resumed with fp16 starts the scale afresh; the loss-scaler state of an fp16 checkpoint
 * resumed on a backend that needs no loss scaling (the CPU, fp32 or bf16 on the GPU) is ignored. Both
 * are logged.
 *
 * <h2>Batches</h2>
 * A final training batch smaller than the batch size is dropped (each epoch is reshuffled, so every
 * image is still used); when the whole training set is smaller than one batch, it is used as is.
 *
 * <h2>Failures</h2>
 * A NaN or infinite loss or gradient stops training at once with {@link NonFiniteLossException}
 * naming the epoch, step and images; the checkpoints of earlier epochs stay as they were. A
 * checkpoint that cannot be written (full disk, unwritable folder) stops training with an
 * {@link UncheckedIOException} naming the file and the reason; the previous checkpoint stays as it
 * was. A process killed mid-write leaves a temporary file beside the checkpoint, which the next
 * {@link #fit} removes.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String LAST = "last.safetensors";
    public static final String BEST = "best.safetensors";

    private final SegmentationModel model;
    private TrainerConfig config = Recipe.STANDARD.trainerConfig();
    private BatchSource train;
    private BatchSource val;
    private Path checkpointDir;
    private boolean resume;
    private final List<TrainingListener> listeners = new ArrayList<>();
    private final Map<String, String> provenance = new LinkedHashMap<>();
    private Function<Backend, LossScaler> lossScaling = LossScaler::forBackend;

    private Trainer(SegmentationModel model) {
        this.model = Objects.requireNonNull(model, "model");
    }

    public static Trainer on(SegmentationModel model) {
        return new Trainer(model);
    }

    public Trainer config(TrainerConfig c) {
        config = Objects.requireNonNull(c);
        return this;
    }

    public TrainerConfig config() {
        return config;
    }

    /** Training data and validation data (validation may be null: no early stopping, no best checkpoint). */
    public Trainer data(BatchSource train, BatchSource val) {
        this.train = Objects.requireNonNull(train, "training data");
        this.val = val;
        return this;
    }

    public Trainer epochs(int n) {
        config = config.withEpochs(n);
        return this;
    }

    public Trainer batchSize(int n) {
        config = config.withBatchSize(n);
        return this;
    }

    public Trainer learningRate(float lr) {
        config = config.withLearningRate(lr);
        return this;
    }

    public Trainer loss(LossKind kind) {
        config = config.withLoss(kind);
        return this;
    }

    public Trainer patience(int epochs) {
        config = config.withPatience(epochs);
        return this;
    }

    /** Folder for {@code last.safetensors} and {@code best.safetensors} (created if missing). */
    public Trainer checkpointDir(Path dir) {
        checkpointDir = dir;
        return this;
    }

    /** Continue from {@code last.safetensors} in the checkpoint folder when it exists. */
    public Trainer resume(boolean on) {
        resume = on;
        return this;
    }

    public Trainer listener(TrainingListener l) {
        listeners.add(Objects.requireNonNull(l));
        return this;
    }

    /** Extra provenance recorded in checkpoints (dataset, split hash, command line, ...). */
    public Trainer provenance(String key, String value) {
        provenance.put(key, value);
        return this;
    }

    /**
     * Replaces {@link LossScaler#forBackend} as the source of the loss scaler (null: none). For tests:
     * it lets the CPU backend, which never gets one, run the scaler's checkpoint and resume path.
     */
    Trainer lossScaling(Function<Backend, LossScaler> factory) {
        lossScaling = Objects.requireNonNull(factory);
        return this;
    }

    // ------------------------------------------------------------------ state kept across epochs

    private final List<EpochSummary> history = new ArrayList<>();
    /** Loss scaling of float16 mixed-precision training (null otherwise); see {@link LossScaler}. */
    private LossScaler scaler;

    private double bestValLoss = Double.POSITIVE_INFINITY;
    private int bestEpoch = -1;
    private int sinceImprovement;

    /** Runs training to the configured number of epochs or early stop. */
    public TrainingResult fit() {
        if (train == null) {
            throw new IllegalStateException("Trainer: no training data (call data(train, val))");
        }
        checkCompatible(train, "training");
        if (val != null) {
            checkCompatible(val, "validation");
        }
        Backend be = model.backend();
        scaler = lossScaling.apply(be);
        int b = config.batchSize();
        int s = train.imageSize();
        int c = train.channels();
        int k = model.classes();
        Path last = checkpointDir == null ? null : checkpointDir.resolve(LAST);
        Path best = checkpointDir == null ? null : checkpointDir.resolve(BEST);
        try (Adam adam = new Adam(
                        be,
                        model.namedParameters(),
                        config.learningRate(),
                        config.beta1(),
                        config.beta2(),
                        config.adamEps(),
                        config.weightDecay());
                Buffers full = new Buffers(be, b, s, c, k)) {
            int start = 0;
            if (resume && last != null && Files.exists(last)) {
                start = restore(last, adam);
                LOG.info("resuming from {} at epoch {}", last, start + 1);
            }
            if (checkpointDir != null) {
                Files.createDirectories(checkpointDir);
                int stale = SafeTensors.removeUnfinishedWrites(last) + SafeTensors.removeUnfinishedWrites(best);
                if (stale > 0) {
                    LOG.info(
                            "removed {} unfinished checkpoint write(s) left in {} by an interrupted run",
                            stale,
                            checkpointDir);
                }
            }
            int batches = train.size() >= b ? train.size() / b : 1;
            for (TrainingListener l : listeners) {
                l.onStart(start, config.epochs(), batches);
            }
            boolean stopped = false;
            for (int epoch = start; epoch < config.epochs(); epoch++) {
                if (config.patience() > 0 && val != null && sinceImprovement >= config.patience()) {
                    stopped = true;
                    break;
                }
                EpochSummary sum = runEpoch(epoch, adam, full, batches);
                history.add(sum);
                if (best != null && sum.improved()) {
                    save(best, null, epoch, adam);
                }
                if (last != null) {
                    save(last, adam, epoch, adam);
                }
                for (TrainingListener l : listeners) {
                    l.onEpoch(sum);
                }
                if (config.patience() > 0 && val != null && sinceImprovement >= config.patience()) {
                    LOG.info(
                            "early stopping after epoch {}: validation loss has not improved for {} epochs",
                            epoch + 1,
                            sinceImprovement);
                    stopped = true;
                    break;
                }
            }
            TrainingResult result = new TrainingResult(
                    List.copyOf(history),
                    bestEpoch,
                    bestValLoss,
                    stopped,
                    last,
                    best != null && Files.exists(best) ? best : null);
            for (TrainingListener l : listeners) {
                l.onFinish(result);
            }
            return result;
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint I/O failed in " + checkpointDir + ": " + e.getMessage(), e);
        }
    }

    /** Writes a checkpoint; a failure (full disk, unwritable folder) stops training with one clear message. */
    private void save(Path file, Adam withOptimizer, int epoch, Adam adam) {
        try {
            // The scaler's state goes with the optimizer's: both are what resuming needs.
            Checkpoint.save(file, model, withOptimizer, withOptimizer != null ? scaler : null, metadata(epoch, adam));
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "training stopped: epoch " + (epoch + 1) + " finished but its checkpoint " + "could not be saved: "
                            + e.getMessage(),
                    e);
        }
    }

    private void checkCompatible(BatchSource src, String what) {
        if (src.channels() != model.inChannels()) {
            throw new IllegalArgumentException(
                    what + " data has " + src.channels() + " channels, the model expects " + model.inChannels());
        }
        if (src.classes() != model.classes()) {
            throw new IllegalArgumentException(
                    what + " data has " + src.classes() + " classes, the model predicts " + model.classes());
        }
        if (src.imageSize() % model.sizeMultiple() != 0) {
            throw new IllegalArgumentException(
                    what + " image size " + src.imageSize() + " is not a multiple of " + model.sizeMultiple());
        }
        if (src.size() == 0) {
            throw new IllegalArgumentException(what + " data is empty");
        }
    }

    private EpochSummary runEpoch(int epoch, Adam adam, Buffers full, int batches) {
        long t0 = System.nanoTime();
        float lr = config.learningRateAt(epoch);
        adam.setLearningRate(lr);
        model.train(true);
        double lossSum = 0;
        long images = 0;
        long waitNanos = 0;
        int step = 0;
        Iterator<Batch> it = train.epoch(epoch, config.batchSize(), true);
        long trainStart = System.nanoTime();
        while (true) {
            long w0 = System.nanoTime();
            if (!it.hasNext()) {
                break;
            }
            try (Batch batch = it.next()) {
                waitNanos += System.nanoTime() - w0;
                if (batch.size() < config.batchSize() && batches > 1) {
                    continue;
                }
                Buffers buf = full.forSize(batch.size());
                buf.load(batch);
                Tensor logits = model.forward(buf.x);
                double loss = loss(logits, buf.target, buf.dLogits);
                if (!Double.isFinite(loss)) {
                    throw new NonFiniteLossException("loss is " + loss + " at epoch " + (epoch + 1) + ", step "
                            + (step + 1) + " (images " + batch.ids() + "); checkpoints of earlier epochs are intact");
                }
                if (scaler != null) {
                    scaler.scaleGradient(buf.dLogits);
                }
                model.backward(buf.dLogits);
                double g = scaler != null ? scaler.unscale(model.parameters()) : gradientSquaredNorm();
                if (!Double.isFinite(g) && scaler == null) {
                    throw new NonFiniteLossException("gradient norm is " + g + " at epoch " + (epoch + 1) + ", step "
                            + (step + 1) + " (images " + batch.ids() + "); checkpoints of earlier epochs are intact");
                }
                if (Double.isFinite(g)) {
                    adam.step();
                } else {
                    LOG.debug(
                            "fp16 gradients overflowed at epoch {}, step {}: step skipped, loss scale now {}",
                            epoch + 1,
                            step + 1,
                            scaler.scale());
                }
                lossSum += loss * batch.size();
                images += batch.size();
                step++;
                double ips = images / ((System.nanoTime() - trainStart) / 1e9);
                for (TrainingListener l : listeners) {
                    l.onBatch(epoch, step, batches, loss, ips);
                }
            }
        }
        double trainSeconds = (System.nanoTime() - trainStart) / 1e9;
        double valLoss = Double.NaN;
        double valDice = Double.NaN;
        double valIou = Double.NaN;
        boolean improved = false;
        if (val != null) {
            double[] v = validate(epoch, full);
            valLoss = v[0];
            valDice = v[1];
            valIou = v[2];
            if (valLoss < bestValLoss - config.minDelta()) {
                bestValLoss = valLoss;
                bestEpoch = epoch;
                sinceImprovement = 0;
                improved = true;
            } else {
                sinceImprovement++;
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        double eta = seconds * (config.epochs() - epoch - 1);
        return new EpochSummary(
                epoch,
                lr,
                images == 0 ? Double.NaN : lossSum / images,
                valLoss,
                valDice,
                valIou,
                seconds,
                images / Math.max(trainSeconds, 1e-9),
                waitNanos / 1e9,
                improved,
                eta);
    }

    /** Mean validation loss, mean lesion Dice and IoU over images. */
    private double[] validate(int epoch, Buffers full) {
        model.train(false);
        double lossSum = 0;
        double diceSum = 0;
        double iouSum = 0;
        long n = 0;
        Iterator<Batch> it = val.epoch(epoch, config.batchSize(), false);
        while (it.hasNext()) {
            try (Batch batch = it.next()) {
                Buffers buf = full.forSize(batch.size());
                buf.load(batch);
                Tensor logits = model.forward(buf.x);
                lossSum += loss(logits, buf.target, null) * batch.size();
                int[] pred = argmax(logits);
                int hw = batch.height() * batch.width();
                int[] truth = batch.masks();
                for (int i = 0; i < batch.size(); i++) {
                    int[] t = java.util.Arrays.copyOfRange(truth, i * hw, (i + 1) * hw);
                    int[] p = java.util.Arrays.copyOfRange(pred, i * hw, (i + 1) * hw);
                    ImageScore sc =
                            ImageScore.of(batch.ids().get(i), t, p, batch.height(), batch.width(), model.classes());
                    diceSum += sc.dice();
                    iouSum += sc.iou();
                }
                n += batch.size();
            }
        }
        model.train(true);
        return new double[] {lossSum / n, diceSum / n, iouSum / n};
    }

    private double loss(Tensor logits, Tensor target, Tensor dLogits) {
        Backend be = model.backend();
        if (config.loss() == LossKind.CE_DICE) {
            return be.crossEntropyDiceLoss(logits, target, dLogits, config.ceWeight(), config.diceWeight(), 1e-5f);
        }
        return be.focalTverskyLoss(
                logits, target, dLogits, config.tverskyAlpha(), config.tverskyBeta(), config.tverskyGamma(), 1e-5f);
    }

    private double gradientSquaredNorm() {
        return Gradients.squaredNorm(model.backend(), model.parameters());
    }

    /** Per-pixel argmax over classes of NHWC logits (ties go to the lower class). */
    public static int[] argmax(Tensor logits) {
        float[] v = logits.toFloatArray();
        int k = logits.dim(3);
        int[] out = new int[v.length / k];
        for (int i = 0; i < out.length; i++) {
            int best = 0;
            float bv = v[i * k];
            for (int c = 1; c < k; c++) {
                if (v[i * k + c] > bv) {
                    bv = v[i * k + c];
                    best = c;
                }
            }
            out[i] = best;
        }
        return out;
    }

    // ------------------------------------------------------------------ checkpoints

    private Map<String, String> metadata(int epoch, Adam adam) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("epoch", Integer.toString(epoch));
        m.put("trainer", Checkpoint.toJson(config.toMap()));
        m.put("best_val_loss", Double.toString(bestValLoss));
        m.put("best_epoch", Integer.toString(bestEpoch));
        m.put("epochs_without_improvement", Integer.toString(sinceImprovement));
        m.put("history", Checkpoint.toJson(history));
        if (!train.preprocessing().isEmpty()) {
            m.put("preprocessing", Checkpoint.toJson(train.preprocessing()));
        }
        m.put("classes", Integer.toString(model.classes()));
        Map<String, String> prov = new LinkedHashMap<>(provenance);
        prov.put("arunet_version", Version.get());
        prov.put("java", System.getProperty("java.version"));
        prov.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        prov.put("backend", model.backend().name());
        prov.put("written", Instant.now().toString());
        prov.put("train_images", Integer.toString(train.size()));
        prov.put("val_images", Integer.toString(val == null ? 0 : val.size()));
        m.put("provenance", Checkpoint.toJson(prov));
        return m;
    }

    /** Loads model, optimizer and trainer state; returns the epoch to run next. */
    private int restore(Path last, Adam adam) throws IOException {
        try (SafeTensors.Reader r = Checkpoint.open(last)) {
            Map<String, String> meta = r.metadata();
            Map<String, String> arch = Checkpoint.architecture(r);
            if (!arch.equals(model.architecture())) {
                throw new IOException(last + ": checkpoint architecture " + arch + " differs from the model's "
                        + model.architecture());
            }
            Checkpoint.loadInto(r, "model.", model.stateDict());
            Map<String, Tensor> optim = Checkpoint.readAll(r, "optim.");
            try {
                adam.loadState(optim, Long.parseLong(meta.getOrDefault("optimizer_steps", "0")));
            } catch (IllegalArgumentException e) {
                throw new IOException(last + ": " + e.getMessage(), e);
            } finally {
                optim.values().forEach(Tensor::close);
            }
            restoreLossScaler(r);
            try {
                int epoch = Integer.parseInt(meta.get("epoch"));
                bestValLoss = Double.parseDouble(meta.getOrDefault("best_val_loss", "Infinity"));
                bestEpoch = Integer.parseInt(meta.getOrDefault("best_epoch", "-1"));
                sinceImprovement = Integer.parseInt(meta.getOrDefault("epochs_without_improvement", "0"));
                history.clear();
                history.addAll(
                        JSON.readValue(meta.getOrDefault("history", "[]"), new TypeReference<List<EpochSummary>>() {}));
                return epoch + 1;
            } catch (RuntimeException e) {
                throw new IOException(last + ": malformed trainer state in checkpoint metadata: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Continues the recorded loss scale, when there is one and this backend uses loss scaling. A
     * malformed record is refused even where it would be ignored: the file is damaged.
     */
    private void restoreLossScaler(SafeTensors.Reader r) throws IOException {
        LossScaler.State s = Checkpoint.lossScaler(r);
        if (scaler == null) {
            if (s != null) {
                LOG.info(
                        "{} holds the loss scale of fp16 mixed-precision training ({}); ignored: backend {} trains "
                                + "without loss scaling",
                        r.file(),
                        s.scale(),
                        model.backend().name());
            }
            return;
        }
        if (s == null) {
            LOG.info(
                    "{} holds no loss scale (fp32 or bf16 training, or a checkpoint from before it was saved): the "
                            + "loss scale starts again at {}",
                    r.file(),
                    scaler.scale());
            return;
        }
        LossScaler.State fresh = scaler.state();
        if (s.growthFactor() != fresh.growthFactor()
                || s.backoffFactor() != fresh.backoffFactor()
                || s.growthInterval() != fresh.growthInterval()) {
            LOG.info(
                    "{}: continuing with the recorded loss-scaler settings (growth x{} every {} finite steps, "
                            + "backoff x{}), not growth x{} every {} and backoff x{}",
                    r.file(),
                    s.growthFactor(),
                    s.growthInterval(),
                    s.backoffFactor(),
                    fresh.growthFactor(),
                    fresh.growthInterval(),
                    fresh.backoffFactor());
        }
        try {
            scaler = LossScaler.restore(model.backend(), s);
        } catch (IllegalArgumentException e) {
            throw new IOException(r.file() + ": " + Checkpoint.LOSS_SCALER + ": " + e.getMessage(), e);
        }
        LOG.info(
                "loss scale restored from {}: {} ({} finite steps since it last changed, {} steps skipped so far)",
                r.file(),
                s.scale(),
                s.goodSteps(),
                s.skippedSteps());
    }

    // ------------------------------------------------------------------ batch tensors

    /** Input, target and gradient tensors for one batch size (a full one and, lazily, one smaller). */
    private static final class Buffers implements AutoCloseable {
        final Backend be;
        final int n;
        final int s;
        final int c;
        final int k;
        final Tensor x;
        final Tensor target;
        final Tensor dLogits;
        private Buffers small;

        Buffers(Backend be, int n, int s, int c, int k) {
            this.be = be;
            this.n = n;
            this.s = s;
            this.c = c;
            this.k = k;
            this.x = be.allocate(DType.F32, Layout.NHWC, n, s, s, c);
            this.target = be.allocate(DType.I32, Layout.PLAIN, n, s, s);
            this.dLogits = be.allocate(DType.F32, Layout.NHWC, n, s, s, k);
        }

        Buffers forSize(int size) {
            if (size == n) {
                return this;
            }
            if (small == null || small.n != size) {
                if (small != null) {
                    small.close();
                }
                small = new Buffers(be, size, s, c, k);
            }
            return small;
        }

        void load(Batch b) {
            if (b.height() != s || b.width() != s || b.channels() != c) {
                throw new IllegalArgumentException("batch of " + b.width() + "x" + b.height() + "x" + b.channels()
                        + " images, expected " + s + "x" + s + "x" + c);
            }
            x.copyFrom(b.images());
            target.copyFrom(b.masks());
        }

        @Override
        public void close() {
            x.close();
            target.close();
            dLogits.close();
            if (small != null) {
                small.close();
            }
        }
    }
}
