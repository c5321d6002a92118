package org.arunet.data.io;

import static org.bytedeco.opencv.global.opencv_core.CV_16U;
import static org.bytedeco.opencv.global.opencv_core.CV_8U;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC1;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_UNCHANGED;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.imageio.ImageIO;
import javax.imageio.stream.ImageInputStream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.opencv_core.Mat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes images and masks from files: PNG (8/16-bit grey, RGB, RGBA, grey+alpha, palette, 1/2/4-bit),
 * JPEG, BMP, TIFF and DICOM (ultrasound single- and multi-frame objects; see below).
 *
 * <p>Each file is read into memory by this class (refusing files beyond {@link ImageLimits#maxFileBytes}),
 * its header is checked by {@link ImageHeaders#check} (format, zero size, declared dimensions against
 * the limits, truncation) and only then handed to OpenCV's {@code imdecode} with
 * {@code IMREAD_UNCHANGED} (no EXIF rotation, so image and mask stay aligned). Palette and sub-byte
 * PNG masks and other indexed masks are decoded with {@code javax.imageio} instead, because OpenCV
 * expands palettes to colours and scales 1/2/4-bit grey, losing the class indices.
 *
 * <p>Images: alpha is composited over black, BGR is returned as RGB, {@link ColorMode} picks grey or
 * colour. 16-bit samples are kept. Masks: with 2 classes any value above 0 in any colour channel is
 * lesion (1); with more classes the mask must be single-channel (or grey stored as three equal
 * channels) and each value is the class index, which must be below the class count.
 *
 * <p>DICOM: a Part 10 file (recognised by its {@code DICM} prefix, whatever its name) in an uncompressed
 * transfer syntax or JPEG Baseline; MONOCHROME1/2 (8 or 16 bits), RGB, YBR_FULL and YBR_FULL_422 (8
 * bits). Its header is read by our own parser (no DICOM library) and checked like any other header
 * before a pixel is decoded, including that Pixel Data holds every declared frame and that there are
 * at most {@link ImageLimits#maxFrames()} frames; a JPEG frame then goes through the JPEG checks and
 * decoder. {@link #open} reads a multi-frame object frame by frame and gives its pixel spacing;
 * {@link #readImage} and the mask readers refuse one (training and evaluation take single frames).
 *
 * <p>Every failure is a {@link DataException} naming the file. Instances are stateless and
 * thread-safe.
 */
public final class ImageReader {
    private static final Logger LOG = LoggerFactory.getLogger(ImageReader.class);

    private final ImageLimits limits;
    private final AtomicBoolean warnedJpegMask = new AtomicBoolean();

    /** A reader with {@link ImageLimits#DEFAULT}. */
    public ImageReader() {
        this(ImageLimits.DEFAULT);
    }

    public ImageReader(ImageLimits limits) {
        this.limits = limits;
    }

    public ImageLimits limits() {
        return limits;
    }

    /** Reads {@code file} and checks its header (see {@link ImageHeaders#check}). */
    public ImageHeader header(Path file) {
        return ImageHeaders.check(file, readBytes(file), limits);
    }

    /** Decodes an image; see the class comment for how channels and alpha are handled. */
    public Raster readImage(Path file, ColorMode mode) {
        ImageFrames frames = open(file, mode);
        if (frames.count() > 1) {
            throw multiFrame(file, frames.count());
        }
        return frames.frame(0);
    }

    /**
     * Opens an image file as its frames: one for every format but a multi-frame DICOM object, whose
     * frames are decoded one at a time by {@link ImageFrames#frame(int)} (the file's bytes are held,
     * never all the decoded frames). Also gives the pixel spacing where the file states one (DICOM).
     * Header, limits and pixel-data checks are done here, before the first frame is decoded.
     */
    public ImageFrames open(Path file, ColorMode mode) {
        return open(file, readBytes(file), mode);
    }

    /**
     * {@link #open(Path, ColorMode)} for a file whose bytes are already in memory (read by another file
     * system, e.g. Spark's {@code binaryFile} source): the same limits and checks, with {@code file}
     * naming it in every error.
     */
    public ImageFrames open(Path file, byte[] bytes, ColorMode mode) {
        if (bytes.length > limits.maxFileBytes()) {
            throw new DataException(
                    file, "file is " + bytes.length + " bytes, beyond the limit of " + limits.maxFileBytes());
        }
        if (bytes.length > 0 && ImageFormat.sniff(bytes) == ImageFormat.DICOM) {
            Dicom.Info info = ImageHeaders.checkDicom(file, bytes, limits);
            List<List<long[]>> jpeg = info.jpeg() ? Dicom.jpegFrames(file, bytes, info) : null;
            return new ImageFrames(
                    file,
                    info.header(),
                    info.frames(),
                    info.spacing(),
                    info.spacingNote(),
                    i -> fromRgb(decodeDicomFrame(file, bytes, info, jpeg, i), mode));
        }
        ImageHeader h = ImageHeaders.check(file, bytes, limits);
        Raster r = toImage(decodeOpenCv(file, bytes, h), mode);
        return new ImageFrames(file, h, 1, null, "a " + h.format() + " file states no pixel spacing", i -> r);
    }

    private static DataException multiFrame(Path file, int frames) {
        return new DataException(
                file,
                "multi-frame DICOM (" + frames + " frames): training, evaluation and"
                        + " single-image calls take single-frame images; 'arunet predict' and ImageReader.open segment or read"
                        + " every frame");
    }

    /** Decodes a mask into class indices below {@code classes} (2 = binary, any value > 0 is lesion). */
    public Raster readMask(Path file, int classes) {
        checkClasses(classes);
        byte[] bytes = readBytes(file);
        if (bytes.length > 0 && ImageFormat.sniff(bytes) == ImageFormat.DICOM) {
            Dicom.Info info = ImageHeaders.checkDicom(file, bytes, limits);
            if (info.frames() > 1) {
                throw multiFrame(file, info.frames());
            }
            Raster r = decodeDicomFrame(file, bytes, info, info.jpeg() ? Dicom.jpegFrames(file, bytes, info) : null, 0);
            return toMask(file, new Decoded(r.width(), r.height(), r.channels(), r.bitDepth(), r.data()), classes);
        }
        ImageHeader h = ImageHeaders.check(file, bytes, limits);
        if (h.format() == ImageFormat.JPEG && !warnedJpegMask.getAndSet(true)) {
            LOG.warn(
                    "{}: mask is a lossy JPEG (said once per reader); compression noise around edges reads as "
                            + "lesion under the 'value > 0' rule",
                    file);
        }
        Decoded d = (h.indexed() || (h.format() == ImageFormat.PNG && h.bitDepth() < 8))
                ? decodeRawSamples(file, bytes, h)
                : decodeOpenCv(file, bytes, h);
        return toMask(file, d, classes);
    }

    /**
     * Decodes several masks of one image and merges them pixelwise by maximum (for binary masks: by
     * OR, as for BUSI's {@code _mask_1} files). All must have the same size.
     */
    public Raster readMask(List<Path> files, int classes) {
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no mask files given");
        }
        Raster merged = readMask(files.get(0), classes);
        for (Path f : files.subList(1, files.size())) {
            Raster m = readMask(f, classes);
            if (m.width() != merged.width() || m.height() != merged.height()) {
                throw new DataException(
                        f,
                        "mask is " + m.width() + "x" + m.height() + " but " + files.get(0) + " of the same image is "
                                + merged.width() + "x" + merged.height());
            }
            byte[] a = merged.data();
            byte[] b = m.data();
            for (int i = 0; i < a.length; i++) {
                a[i] = (byte) Math.max(a[i] & 0xFF, b[i] & 0xFF);
            }
        }
        return merged;
    }

    /** Decodes an image and its mask(s) and checks that they have the same size. */
    public ImagePair readPair(Path image, List<Path> masks, ColorMode mode, int classes) {
        if (masks.isEmpty()) {
            throw new DataException(image, "image has no mask");
        }
        Raster img = readImage(image, mode);
        Raster mask = readMask(masks, classes);
        if (img.width() != mask.width() || img.height() != mask.height()) {
            throw new DataException(
                    masks.get(0),
                    "mask is " + mask.width() + "x" + mask.height() + " but image " + image + " is " + img.width() + "x"
                            + img.height());
        }
        return new ImagePair(img, mask);
    }

    /**
     * The whole file, refusing missing, unreadable and oversized files, and anything that is not a
     * regular file (a FIFO would block forever, {@code /dev/zero} would never end). At most
     * {@link ImageLimits#maxFileBytes} are read even when the file grows while it is read.
     */
    public byte[] readBytes(Path file) {
        try {
            if (Files.exists(file) && !Files.isRegularFile(file)) {
                throw new DataException(
                        file,
                        Files.isDirectory(file)
                                ? "is a folder, not an image file"
                                : "is not a regular file (a device, pipe or socket)");
            }
            long size = Files.size(file);
            if (size > limits.maxFileBytes()) {
                throw new DataException(
                        file, "file is " + size + " bytes, beyond the limit of " + limits.maxFileBytes());
            }
            byte[] bytes;
            try (java.io.InputStream in = Files.newInputStream(file)) {
                bytes = in.readNBytes((int) Math.min(limits.maxFileBytes() + 1, Integer.MAX_VALUE - 8));
            }
            if (bytes.length > limits.maxFileBytes()) {
                throw new DataException(
                        file, "file grew beyond the limit of " + limits.maxFileBytes() + " bytes while it was read");
            }
            return bytes;
        } catch (NoSuchFileException e) {
            throw new DataException(file, "file does not exist", e);
        } catch (IOException e) {
            throw new DataException(file, "cannot read file: " + e, e);
        }
    }

    /**
     * An image already in memory as an OpenCV {@code Mat}: 8- or 16-bit unsigned, 1 to 4 channels in
     * OpenCV's order (grey, grey+alpha, BGR, BGRA), handled exactly as a decoded file would be (alpha
     * composited over black, BGR to RGB, {@link ColorMode}).
     */
    public static Raster fromMat(org.bytedeco.opencv.opencv_core.Mat m, ColorMode mode) {
        if (m == null || m.empty()) {
            throw new IllegalArgumentException("the Mat is empty");
        }
        if (m.channels() < 1 || m.channels() > 4) {
            throw new IllegalArgumentException("Mat has " + m.channels() + " channels; 1 to 4 are supported");
        }
        Raster raw = OpenCv.toRaster(m);
        return toImage(new Decoded(raw.width(), raw.height(), raw.channels(), raw.bitDepth(), raw.data()), mode);
    }

    /**
     * An image given as a raster in RGB (3 channels) or grey (1 channel) order, with {@link ColorMode}
     * applied as for files.
     */
    public static Raster fromRgb(Raster rgbOrGrey, ColorMode mode) {
        if (rgbOrGrey.channels() != 1 && rgbOrGrey.channels() != 3) {
            throw new IllegalArgumentException("raster must have 1 or 3 channels, got " + rgbOrGrey.channels());
        }
        if (rgbOrGrey.channels() == 1) {
            return mode == ColorMode.RGB ? replicate(rgbOrGrey) : rgbOrGrey;
        }
        if (mode == ColorMode.RGB) {
            return rgbOrGrey;
        }
        boolean equal = channelsEqual(rgbOrGrey);
        if (mode == ColorMode.AUTO && !equal) {
            return rgbOrGrey;
        }
        return toGrey(rgbOrGrey, equal);
    }

    // ---- decoding

    /** Samples as decoded, before channel handling: 1-4 channels (BGR[A] order from OpenCV). */
    private record Decoded(int width, int height, int channels, int bitDepth, byte[] data) {
        Raster asRaster(int ch, byte[] d) {
            return new Raster(width, height, ch, bitDepth, d);
        }
    }

    private static Decoded decodeOpenCv(Path file, byte[] bytes, ImageHeader h) {
        try (PointerScope scope = new PointerScope()) {
            Mat buf = new Mat(1, bytes.length, CV_8UC1, new BytePointer(bytes));
            Mat m;
            try {
                m = opencv_imgcodecs.imdecode(buf, IMREAD_UNCHANGED);
            } catch (RuntimeException e) {
                throw new DataException(file, "corrupt " + h.format() + " data: " + e.getMessage(), e);
            }
            if (m == null || m.empty()) {
                throw new DataException(
                        file,
                        "corrupt or unsupported " + h.format() + " data: the decoder "
                                + "returned no image (header declares " + h.width() + "x" + h.height() + ")");
            }
            if (m.cols() != h.width() || m.rows() != h.height()) {
                throw new DataException(
                        file,
                        "decoded " + m.cols() + "x" + m.rows() + " but the header declares " + h.width() + "x"
                                + h.height());
            }
            int bits = m.depth() == CV_8U ? 8 : m.depth() == CV_16U ? 16 : -1;
            if (bits < 0) {
                throw new DataException(
                        file,
                        "unsupported sample type (OpenCV depth " + m.depth()
                                + "): only 8- and 16-bit unsigned samples are read");
            }
            int ch = m.channels();
            if (ch < 1 || ch > 4) {
                throw new DataException(file, "unsupported channel count " + ch);
            }
            Mat c = m.isContinuous() ? m : m.clone();
            byte[] d = new byte[Math.toIntExact(c.total() * c.elemSize())];
            c.data().get(d);
            return new Decoded(c.cols(), c.rows(), ch, bits, d);
        }
    }

    /**
     * One DICOM frame as grey or RGB samples (before {@link ColorMode}): JPEG frames through the JPEG
     * header checks and OpenCV; uncompressed ones from the Pixel Data, MONOCHROME1 inverted, samples
     * of fewer stored than allocated bits scaled to the full range, YBR converted to RGB.
     */
    private Raster decodeDicomFrame(Path file, byte[] bytes, Dicom.Info info, List<List<long[]>> jpeg, int frame) {
        if (frame < 0 || frame >= info.frames()) {
            throw new IndexOutOfBoundsException("frame " + frame + " of " + info.frames());
        }
        if (info.jpeg()) {
            List<long[]> frags = jpeg.get(frame);
            long total = 0;
            for (long[] f : frags) {
                total += f[1];
            }
            byte[] data = new byte[Math.toIntExact(total)]; // at most the file's size, already in memory
            int at = 0;
            for (long[] f : frags) {
                System.arraycopy(bytes, (int) f[0], data, at, (int) f[1]);
                at += (int) f[1];
            }
            ImageHeader jh;
            try {
                jh = ImageHeaders.check(file, data, limits);
            } catch (DataException e) {
                throw new DataException(file, "DICOM frame " + (frame + 1) + ": " + e.problem(), e);
            }
            if (jh.format() != ImageFormat.JPEG || jh.width() != info.columns() || jh.height() != info.rows()) {
                throw new DataException(
                        file,
                        "DICOM frame " + (frame + 1) + " holds a " + jh.format() + " of "
                                + jh.width() + "x" + jh.height() + " but the object declares " + info.columns() + "x"
                                + info.rows());
            }
            Raster r = colourOverBlack(decodeOpenCv(file, data, jh));
            if (info.photometric().equals("MONOCHROME1")) {
                invert(r);
            }
            return r;
        }
        int w = info.columns();
        int h = info.rows();
        int n = w * h;
        long base = info.pixelOffset() + info.frameBytes() * frame;
        String pi = info.photometric();
        if (pi.startsWith("MONOCHROME")) {
            int bits = info.bitsAllocated();
            Raster out = new Raster(w, h, 1, bits, new byte[n * (bits / 8)]);
            int stored = info.bitsStored();
            int storedMax = (1 << stored) - 1;
            int fullMax = out.maxValue();
            boolean invert = pi.equals("MONOCHROME1");
            for (int i = 0; i < n; i++) {
                int v;
                if (bits == 8) {
                    v = bytes[(int) (base + i)] & 0xFF;
                } else {
                    int at = (int) (base + 2L * i);
                    int b0 = bytes[at] & 0xFF;
                    int b1 = bytes[at + 1] & 0xFF;
                    v = info.bigEndian() ? (b0 << 8) | b1 : (b1 << 8) | b0;
                }
                v &= storedMax;
                if (invert) {
                    v = storedMax - v;
                }
                out.setSample(i, stored == bits ? v : (int) Math.round(v * (double) fullMax / storedMax));
            }
            return out;
        }
        byte[] rgb = new byte[3 * n];
        boolean planar = info.planar() == 1;
        if (pi.equals("YBR_FULL_422")) {
            for (int p = 0; p < n; p += 2) { // Y1 Y2 Cb Cr for each pair of pixels
                int at = (int) (base + 2L * p);
                int cb = bytes[at + 2] & 0xFF;
                int cr = bytes[at + 3] & 0xFF;
                ybrToRgb(bytes[at] & 0xFF, cb, cr, rgb, 3 * p);
                ybrToRgb(bytes[at + 1] & 0xFF, cb, cr, rgb, 3 * (p + 1));
            }
        } else {
            boolean ybr = pi.equals("YBR_FULL");
            for (int p = 0; p < n; p++) {
                int c0 = bytes[(int) (planar ? base + p : base + 3L * p)] & 0xFF;
                int c1 = bytes[(int) (planar ? base + n + p : base + 3L * p + 1)] & 0xFF;
                int c2 = bytes[(int) (planar ? base + 2L * n + p : base + 3L * p + 2)] & 0xFF;
                if (ybr) {
                    ybrToRgb(c0, c1, c2, rgb, 3 * p);
                } else {
                    rgb[3 * p] = (byte) c0;
                    rgb[3 * p + 1] = (byte) c1;
                    rgb[3 * p + 2] = (byte) c2;
                }
            }
        }
        return new Raster(w, h, 3, 8, rgb);
    }

    /** Full-range YCbCr (DICOM YBR_FULL, as JPEG's JFIF) to RGB, rounded and clamped. */
    private static void ybrToRgb(int y, int cb, int cr, byte[] out, int at) {
        double r = y + 1.402 * (cr - 128);
        double g = y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128);
        double b = y + 1.772 * (cb - 128);
        out[at] = (byte) clamp255(r);
        out[at + 1] = (byte) clamp255(g);
        out[at + 2] = (byte) clamp255(b);
    }

    private static int clamp255(double v) {
        return (int) Math.max(0, Math.min(255, Math.round(v)));
    }

    private static void invert(Raster r) {
        int max = r.maxValue();
        for (long i = 0; i < r.samples(); i++) {
            r.setSample(i, max - r.sample(i));
        }
    }

    /** Raw samples of band 0 through javax.imageio: palette indices, unscaled 1/2/4-bit values. */
    private static Decoded decodeRawSamples(Path file, byte[] bytes, ImageHeader h) {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<javax.imageio.ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new DataException(file, "no decoder for this " + h.format() + " file");
            }
            javax.imageio.ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                BufferedImage img = reader.read(0);
                java.awt.image.Raster r = img.getRaster();
                if (r.getWidth() != h.width() || r.getHeight() != h.height()) {
                    throw new DataException(
                            file,
                            "decoded " + r.getWidth() + "x" + r.getHeight() + " but the header declares " + h.width()
                                    + "x" + h.height());
                }
                int w = r.getWidth();
                int hh = r.getHeight();
                int[] row = new int[w];
                int max = 0;
                int[] all = new int[w * hh];
                for (int y = 0; y < hh; y++) {
                    r.getSamples(0, y, w, 1, 0, row);
                    System.arraycopy(row, 0, all, y * w, w);
                    for (int v : row) {
                        max = Math.max(max, v);
                    }
                }
                int bits = max > 255 ? 16 : 8;
                Raster out = new Raster(w, hh, 1, bits, new byte[w * hh * (bits / 8)]);
                for (int i = 0; i < all.length; i++) {
                    out.setSample(i, all[i]);
                }
                return new Decoded(w, hh, 1, bits, out.data());
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof DataException de) {
                throw de;
            }
            throw new DataException(file, "corrupt " + h.format() + " data: " + e.getMessage(), e);
        }
    }

    // ---- channel handling

    private static Raster toImage(Decoded d, ColorMode mode) {
        return fromRgb(colourOverBlack(d), mode);
    }

    /** Drops alpha by compositing over black, and reorders BGR to RGB. Result: 1 or 3 channels. */
    private static Raster colourOverBlack(Decoded d) {
        if (d.channels() == 1) {
            return new Raster(d.width(), d.height(), 1, d.bitDepth(), d.data());
        }
        int n = d.width() * d.height();
        int outCh = d.channels() == 2 ? 1 : 3;
        Raster in = rawView(d);
        Raster out = new Raster(d.width(), d.height(), outCh, d.bitDepth(), new byte[n * outCh * (d.bitDepth() / 8)]);
        int max = out.maxValue();
        int ch = d.channels();
        for (int p = 0; p < n; p++) {
            long base = (long) p * ch;
            if (ch == 2) {
                int a = in.sample(base + 1);
                out.setSample(p, composite(in.sample(base), a, max));
            } else {
                int a = ch == 4 ? in.sample(base + 3) : max;
                long o = (long) p * 3;
                out.setSample(o, composite(in.sample(base + 2), a, max)); // R
                out.setSample(o + 1, composite(in.sample(base + 1), a, max)); // G
                out.setSample(o + 2, composite(in.sample(base), a, max)); // B
            }
        }
        return out;
    }

    /** A flat single-channel view of the decoded samples (any channel count) for indexed access. */
    private static Raster rawView(Decoded d) {
        return new Raster(d.width() * d.channels(), d.height(), 1, d.bitDepth(), d.data());
    }

    private static int composite(int v, int alpha, int max) {
        return alpha == max ? v : (int) ((long) v * alpha / max);
    }

    private static boolean channelsEqual(Raster rgb) {
        long n = (long) rgb.width() * rgb.height();
        for (long p = 0; p < n; p++) {
            int r = rgb.sample(3 * p);
            if (rgb.sample(3 * p + 1) != r || rgb.sample(3 * p + 2) != r) {
                return false;
            }
        }
        return true;
    }

    private static Raster toGrey(Raster rgb, boolean equal) {
        int n = rgb.width() * rgb.height();
        Raster out = new Raster(rgb.width(), rgb.height(), 1, rgb.bitDepth(), new byte[n * (rgb.bitDepth() / 8)]);
        for (int p = 0; p < n; p++) {
            long i = 3L * p;
            int v = equal
                    ? rgb.sample(i)
                    : (int) Math.round(0.299 * rgb.sample(i) + 0.587 * rgb.sample(i + 1) + 0.114 * rgb.sample(i + 2));
            out.setSample(p, v);
        }
        return out;
    }

    private static Raster replicate(Raster grey) {
        int n = grey.width() * grey.height();
        Raster out = new Raster(grey.width(), grey.height(), 3, grey.bitDepth(), new byte[3 * grey.data().length]);
        for (int p = 0; p < n; p++) {
            int v = grey.sample(p);
            out.setSample(3L * p, v);
            out.setSample(3L * p + 1, v);
            out.setSample(3L * p + 2, v);
        }
        return out;
    }

    private static Raster toMask(Path file, Decoded d, int classes) {
        int n = d.width() * d.height();
        int ch = d.channels();
        int colour = ch == 2 ? 1 : Math.min(ch, 3); // alpha channel (2nd of 2, 4th of 4) is ignored
        Raster in = rawView(d);
        byte[] out = new byte[n];
        long beyond = 0;
        int firstBad = -1;
        int firstBadValue = 0;
        for (int p = 0; p < n; p++) {
            long base = (long) p * ch;
            int v0 = in.sample(base);
            if (classes == 2) {
                boolean lesion = v0 > 0;
                for (int c = 1; c < colour && !lesion; c++) {
                    lesion = in.sample(base + c) > 0;
                }
                out[p] = (byte) (lesion ? 1 : 0);
                continue;
            }
            for (int c = 1; c < colour; c++) {
                if (in.sample(base + c) != v0) {
                    throw new DataException(
                            file,
                            "colour mask (pixel " + (p % d.width()) + "," + (p / d.width())
                                    + " has different channel values): class-index masks must be single-channel "
                                    + "grey or palette images");
                }
            }
            if (v0 >= classes) {
                if (beyond++ == 0) {
                    firstBad = p;
                    firstBadValue = v0;
                }
                continue;
            }
            out[p] = (byte) v0;
        }
        if (beyond > 0) {
            throw new DataException(
                    file,
                    "mask value " + firstBadValue + " at pixel " + (firstBad % d.width()) + ","
                            + (firstBad / d.width()) + " is not a class index below " + classes + " (" + beyond
                            + " pixels out of range)");
        }
        return new Raster(d.width(), d.height(), 1, 8, out);
    }

    private static void checkClasses(int classes) {
        if (classes < 2 || classes > 256) {
            throw new IllegalArgumentException("classes must be in [2, 256], got " + classes);
        }
    }
}
