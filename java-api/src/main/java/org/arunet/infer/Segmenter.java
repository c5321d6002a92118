package org.arunet.infer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.stream.Stream;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.backend.Precision;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageFormat;
import org.arunet.data.io.ImageFrames;
import org.arunet.data.io.ImageLimits;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;
import org.arunet.data.loader.Normalization;
import org.arunet.data.loader.Preprocessing;
import org.arunet.data.video.FrameSource;
import org.arunet.io.SafeTensors;
import org.arunet.model.SegmentationModel;
import org.arunet.pretrained.PretrainedModels;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Checkpoint;

/**
 * Segments images with a trained checkpoint.
 *
 * <pre>{@code
 * try (Segmenter s = Segmenter.load(Path.of("runs/busi/best.safetensors"))) {
 *     Segmentation seg = s.segment(Path.of("scan.png"));
 *     seg.writeMask(Path.of("scan_mask.png"));
 * }
 * }</pre>
 *
 * <p>An image (file, {@code BufferedImage}, float array or {@link Raster}; an OpenCV {@code Mat} as
 * {@code segment(ImageReader.fromMat(mat, segmenter.preprocessing().colorMode()))}) is read
 * and preprocessed exactly as in training (the checkpoint records it: channels, size, normalisation),
 * the model predicts class probabilities at the training size, and these are resized (bilinear) to
 * the image's size before taking the most probable class per pixel. Options: horizontal-flip
 * test-time augmentation (probabilities of the image and its mirror averaged) and keeping only the
 * largest connected lesion.
 *
 * <p><b>Thread safety:</b> all methods may be called from any number of threads. The segmenter holds
 * {@code replicas} independent model instances (each with its own backend and memory) in a pool;
 * each call borrows one and waits while all are busy. One replica (the default) serialises calls;
 * more replicas let calls run in parallel at the cost of one model's memory each.
 */
public final class Segmenter implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Preprocessing prep;
    private final boolean flipTta;
    private final boolean largestComponent;
    private final int classes;
    private final List<Replica> replicas = new ArrayList<>();
    private final BlockingQueue<Replica> free;
    private final ImageReader reader = new ImageReader();
    private volatile boolean closed;

    private Segmenter(Builder b) throws IOException {
        Preprocessing p;
        try (SafeTensors.Reader r = Checkpoint.open(b.checkpoint)) {
            String pre = r.metadata().get("preprocessing");
            if (pre != null) {
                try {
                    p = Preprocessing.fromMap(JSON.readValue(pre, new TypeReference<Map<String, String>>() {}));
                } catch (IOException | IllegalArgumentException e) {
                    throw new IOException(b.checkpoint + ": unreadable preprocessing in checkpoint: " + e.getMessage());
                }
            } else {
                if (b.imageSize <= 0) {
                    throw new IOException(b.checkpoint + ": the checkpoint does not record its input size; give one"
                            + " with imageSize(...)");
                }
                try {
                    int ch = Integer.parseInt(Checkpoint.architecture(r).getOrDefault("in_channels", "3"));
                    p = new Preprocessing(b.imageSize, ch, Normalization.symmetric());
                } catch (IllegalArgumentException e) {
                    throw new IOException(b.checkpoint + ": " + e.getMessage(), e);
                }
            }
        }
        this.prep = b.imageSize > 0 ? new Preprocessing(b.imageSize, p.channels(), p.normalization()) : p;
        // The input size sets the memory of every forward pass; a checkpoint is untrusted, so it gets the
        // same bound as the images this library reads.
        long pixels = (long) prep.imageSize() * prep.imageSize();
        if (prep.imageSize() > ImageLimits.DEFAULT.maxSide() || pixels > ImageLimits.DEFAULT.maxPixels()) {
            throw new IOException(b.checkpoint + ": input size " + prep.imageSize() + "x" + prep.imageSize()
                    + " is beyond the image limits (" + ImageLimits.DEFAULT.maxPixels() + " pixels); refused");
        }
        this.flipTta = b.flipTta;
        this.largestComponent = b.largestComponent;
        this.free = new ArrayBlockingQueue<>(b.replicas);
        int threadsEach = b.threads > 0 ? Math.max(1, b.threads / b.replicas) : 0;
        try {
            for (int i = 0; i < b.replicas; i++) {
                Backend be = Backends.create(b.device, threadsEach);
                SegmentationModel m;
                try {
                    be.setInferencePrecision(b.precision);
                    m = Checkpoint.loadModel(b.checkpoint, be);
                } catch (IOException | RuntimeException | Error e) {
                    be.close();
                    throw e;
                }
                Replica rep;
                try {
                    rep = new Replica(be, m, prep);
                } catch (RuntimeException | Error e) { // e.g. OutOfMemoryError for the input tensors
                    m.close();
                    be.close();
                    throw e;
                }
                replicas.add(rep);
                free.add(rep);
            }
        } catch (IOException | RuntimeException | Error e) {
            replicas.forEach(Replica::close);
            throw e;
        }
        SegmentationModel m0 = replicas.get(0).model;
        if (m0.inChannels() != prep.channels()) {
            close();
            throw new IOException(b.checkpoint + ": model takes " + m0.inChannels() + " channels but preprocessing "
                    + "gives " + prep.channels());
        }
        if (prep.imageSize() % m0.sizeMultiple() != 0) {
            close();
            throw new IOException("input size " + prep.imageSize() + " is not a multiple of " + m0.sizeMultiple());
        }
        this.classes = m0.classes();
    }

    /** A segmenter with default options (device auto, one replica, no TTA, all components kept). */
    public static Segmenter load(Path checkpoint) throws IOException {
        return builder(checkpoint).build();
    }

    public static Builder builder(Path checkpoint) {
        return new Builder(checkpoint);
    }

    /**
     * A segmenter with default options for a shipped model, e.g. {@code "busi-compact"} (the models
     * of {@code org.arunet:arunet-models}; {@link PretrainedModels} lists them). The model's file is
     * verified before use (SHA-256, and its architecture and preprocessing against its card).
     *
     * @throws PretrainedModels.UnknownModelException for an unknown name (the message lists the known ones)
     * @throws IOException when the model's file is damaged or disagrees with its card
     */
    public static Segmenter pretrained(String name) throws IOException {
        return builder(PretrainedModels.onClassPath().checkpoint(name)).build();
    }

    public Preprocessing preprocessing() {
        return prep;
    }

    public int classes() {
        return classes;
    }

    // ------------------------------------------------------------------ inputs

    /**
     * Reads an image file (PNG, JPEG, BMP, TIFF, single-frame DICOM; 8/16-bit, grey or colour) and
     * segments it; the result carries the file's pixel spacing where it states one (DICOM). A
     * multi-frame DICOM object is refused here: use {@link #segmentFrames(Path)}.
     */
    public Segmentation segment(Path image) {
        ImageFrames frames = reader.open(image, prep.colorMode());
        if (frames.count() > 1) {
            throw new DataException(
                    image,
                    "multi-frame DICOM (" + frames.count() + " frames): segment it with"
                            + " segmentFrames(path), one result per frame");
        }
        return segment(frames.frame(0), image.toString())
                .withSpacing(frames.spacing().orElse(null));
    }

    /**
     * Segments every frame of an image file (one for all formats but multi-frame DICOM), frames decoded
     * one at a time; each result carries the file's pixel spacing where it states one.
     */
    public List<Segmentation> segmentFrames(Path image) {
        ImageFrames frames = reader.open(image, prep.colorMode());
        List<Segmentation> out = new ArrayList<>();
        for (int i = 0; i < frames.count(); i++) {
            out.add(segment(frames.frame(i), image + (frames.count() > 1 ? "#" + (i + 1) : ""))
                    .withSpacing(frames.spacing().orElse(null)));
        }
        return out;
    }

    /** Segments a Java image (grey, 16-bit grey or any colour type). */
    public Segmentation segment(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        int w = image.getWidth();
        int h = image.getHeight();
        Raster r;
        if (image.getType() == BufferedImage.TYPE_BYTE_GRAY || image.getType() == BufferedImage.TYPE_USHORT_GRAY) {
            boolean sixteen = image.getType() == BufferedImage.TYPE_USHORT_GRAY;
            r = new Raster(w, h, 1, sixteen ? 16 : 8, new byte[w * h * (sixteen ? 2 : 1)]);
            java.awt.image.Raster src = image.getRaster();
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    r.setSample((long) y * w + x, src.getSample(x, y, 0));
                }
            }
        } else {
            r = new Raster(w, h, 3, 8, new byte[w * h * 3]);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int argb = image.getRGB(x, y);
                    int a = argb >>> 24;
                    long o = 3L * (y * w + x);
                    r.setSample(o, ((argb >> 16) & 0xFF) * a / 255);
                    r.setSample(o + 1, ((argb >> 8) & 0xFF) * a / 255);
                    r.setSample(o + 2, (argb & 0xFF) * a / 255);
                }
            }
        }
        return segment(ImageReader.fromRgb(r, prep.colorMode()), "BufferedImage");
    }

    /**
     * Segments an image given as intensities in [0, 1], row-major {@code height x width x channels}
     * (channels 1 = grey or 3 = RGB).
     */
    public Segmentation segment(float[] pixels, int width, int height, int channels) {
        if (width < 1
                || height < 1
                || (channels != 1 && channels != 3)
                || pixels.length != (long) width * height * channels) {
            throw new IllegalArgumentException("float image: " + pixels.length + " values for " + width + "x" + height
                    + "x" + channels + " (channels must be 1 or 3)");
        }
        Raster r = new Raster(width, height, channels, 16, new byte[pixels.length * 2]);
        for (int i = 0; i < pixels.length; i++) {
            float v = pixels[i];
            if (!(v >= 0f && v <= 1f)) {
                throw new IllegalArgumentException("float image: value " + v + " at index " + i + " is outside [0, 1]");
            }
            r.setSample(i, Math.round(v * 65535f));
        }
        return segment(ImageReader.fromRgb(r, prep.colorMode()), "float[]");
    }

    /** Segments a decoded raster (grey or RGB order). */
    public Segmentation segment(Raster image) {
        return segment(ImageReader.fromRgb(image, prep.colorMode()), "Raster");
    }

    /**
     * Segments every image of a folder (sorted by name, not recursive) and writes each mask as
     * {@code <outDir>/<name without extension>.png}.
     */
    public List<Segmentation> segmentFolder(Path inDir, Path outDir) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(inDir)) {
            files = s.filter(Files::isRegularFile)
                    .filter(ImageFormat::isImageFile)
                    .sorted()
                    .toList();
        }
        List<Segmentation> out = new ArrayList<>();
        for (Path f : files) {
            Segmentation seg = segment(f);
            seg.writeMask(outDir.resolve(stem(f) + ".png"));
            out.add(seg);
        }
        return out;
    }

    /** File name without its extension. */
    public static String stem(Path f) {
        String n = f.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    // ------------------------------------------------------------------ prediction

    private Segmentation segment(Raster image, String source) {
        if (closed) {
            throw new IllegalStateException("segmenter is closed");
        }
        float[] input = prep.apply(image);
        float[] probs = new float[input.length / prep.channels() * classes];
        probabilities(input, probs);
        return finish(probs, image.width(), image.height(), source);
    }

    /**
     * The streaming path's first stage: a decoded image (grey or RGB order) in the model's colour mode,
     * resized and normalised into {@code out} ({@code S x S x channels}), exactly as the still-image path.
     */
    void preprocess(Raster image, float[] out) {
        prep.apply(ImageReader.fromRgb(image, prep.colorMode()), out, 0);
    }

    /** Floats of one preprocessed input, and of one image's class probabilities at the model's size. */
    int inputLength() {
        return prep.imageSize() * prep.imageSize() * prep.channels();
    }

    int probabilitiesLength() {
        return prep.imageSize() * prep.imageSize() * classes;
    }

    /** Class probabilities ({@code S x S x K}, flip TTA included) of a preprocessed input, into {@code out}. */
    void probabilities(float[] input, float[] out) {
        if (closed) {
            throw new IllegalStateException("segmenter is closed");
        }
        Replica rep;
        try {
            rep = free.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a free model replica", e);
        }
        try {
            rep.probabilities(input, out);
            if (flipTta) {
                int s = prep.imageSize();
                float[] flipped = new float[out.length];
                rep.probabilities(flipW(input, s, s, prep.channels()), flipped);
                float[] back = flipW(flipped, s, s, classes);
                for (int i = 0; i < out.length; i++) {
                    out[i] = 0.5f * (out[i] + back[i]);
                }
            }
        } finally {
            free.add(rep);
        }
    }

    /**
     * Opens a stream that segments the frames of {@code source} in order on background threads (see
     * {@link SegmentationStream}). The stream takes over the source and closes it; close the stream
     * before this segmenter.
     */
    public SegmentationStream stream(FrameSource source, StreamOptions options) {
        if (closed) {
            throw new IllegalStateException("segmenter is closed");
        }
        return new SegmentationStream(this, source, options);
    }

    /** {@link #stream(FrameSource, StreamOptions)} with the default options (no smoothing, no pacing). */
    public SegmentationStream stream(FrameSource source) {
        return stream(source, StreamOptions.defaults());
    }

    /** Mirrors an HWC array left to right. */
    static float[] flipW(float[] a, int h, int w, int c) {
        float[] out = new float[a.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                System.arraycopy(a, (y * w + x) * c, out, (y * w + (w - 1 - x)) * c, c);
            }
        }
        return out;
    }

    /** Resizes S x S x K probabilities to the image size, takes the argmax, optionally keeps the largest lesion. */
    Segmentation finish(float[] probs, int w, int h, String source) {
        int s = prep.imageSize();
        int k = classes;
        float[] full;
        if (w == s && h == s) {
            full = probs;
        } else {
            full = OpenCv.resizeLinear(probs, s, s, k, w, h);
        }
        byte[] mask = new byte[w * h];
        float[] lesion = new float[w * h];
        for (int i = 0; i < w * h; i++) {
            int best = 0;
            float bv = full[i * k];
            for (int c = 1; c < k; c++) {
                if (full[i * k + c] > bv) {
                    bv = full[i * k + c];
                    best = c;
                }
            }
            mask[i] = (byte) best;
            lesion[i] = Math.min(1f, Math.max(0f, 1f - full[i * k]));
        }
        if (largestComponent) {
            keepLargestComponent(mask, w, h);
        }
        return new Segmentation(source, w, h, k, mask, lesion);
    }

    /** Sets every lesion pixel outside the largest 8-connected lesion region to background. */
    static void keepLargestComponent(byte[] mask, int w, int h) {
        int[] label = new int[mask.length];
        int[] stack = new int[mask.length];
        int best = 0;
        int bestSize = 0;
        int next = 0;
        for (int start = 0; start < mask.length; start++) {
            if (mask[start] == 0 || label[start] != 0) {
                continue;
            }
            next++;
            int size = 0;
            int sp = 0;
            stack[sp++] = start;
            label[start] = next;
            while (sp > 0) {
                int p = stack[--sp];
                size++;
                int py = p / w;
                int px = p % w;
                for (int dy = -1; dy <= 1; dy++) {
                    for (int dx = -1; dx <= 1; dx++) {
                        int y = py + dy;
                        int x = px + dx;
                        if (y < 0 || y >= h || x < 0 || x >= w) {
                            continue;
                        }
                        int q = y * w + x;
                        if (mask[q] != 0 && label[q] == 0) {
                            label[q] = next;
                            stack[sp++] = q;
                        }
                    }
                }
            }
            if (size > bestSize) {
                bestSize = size;
                best = next;
            }
        }
        for (int i = 0; i < mask.length; i++) {
            if (mask[i] != 0 && label[i] != best) {
                mask[i] = 0;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Replica r : replicas) {
            r.close();
        }
        replicas.clear();
    }

    /** One model instance with its backend and input tensors. */
    private static final class Replica implements AutoCloseable {
        final Backend backend;
        final SegmentationModel model;
        final Tensor x;
        final Tensor probs;

        Replica(Backend backend, SegmentationModel model, Preprocessing prep) {
            this.backend = backend;
            this.model = model;
            int s = prep.imageSize();
            model.eval();
            this.x = backend.allocate(DType.F32, Layout.NHWC, 1, s, s, prep.channels());
            this.probs = backend.allocate(DType.F32, Layout.NHWC, 1, s, s, model.classes());
        }

        void probabilities(float[] input, float[] out) {
            x.copyFrom(input);
            backend.softmax(model.forward(x), probs);
            probs.copyTo(out);
        }

        @Override
        public void close() {
            x.close();
            probs.close();
            model.close();
            backend.close();
        }
    }

    /** Options of a {@link Segmenter}. */
    public static final class Builder {
        private final Path checkpoint;
        private String device = "auto";
        private int threads;
        private boolean flipTta;
        private boolean largestComponent;
        private int replicas = 1;
        private int imageSize;
        private Precision precision = Precision.F32;

        private Builder(Path checkpoint) {
            this.checkpoint = Objects.requireNonNull(checkpoint, "checkpoint");
        }

        /** {@code cpu}, {@code cuda}, {@code auto} (default) or {@code reference}. */
        public Builder device(String d) {
            device = d;
            return this;
        }

        /** CPU threads in all (0 = all processors), shared among the replicas. */
        public Builder threads(int t) {
            threads = t;
            return this;
        }

        /** Average with the prediction of the mirrored image (test-time augmentation). */
        public Builder flipTta(boolean on) {
            flipTta = on;
            return this;
        }

        /** Keep only the largest connected lesion region. */
        public Builder largestComponent(boolean on) {
            largestComponent = on;
            return this;
        }

        /** Model instances for concurrent callers (default 1). */
        public Builder replicas(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("replicas must be >= 1, got " + n);
            }
            replicas = n;
            return this;
        }

        /**
         * Arithmetic of the convolutions (default F32); BF16 where the backend supports it
         * ({@link Backend#supportsBf16Inference()}), else {@link #build()} throws
         * {@link IllegalArgumentException}.
         */
        public Builder precision(Precision p) {
            precision = Objects.requireNonNull(p, "precision");
            return this;
        }

        /** Network input size; defaults to the size recorded in the checkpoint. */
        public Builder imageSize(int s) {
            imageSize = s;
            return this;
        }

        public Segmenter build() throws IOException {
            return new Segmenter(this);
        }
    }
}
