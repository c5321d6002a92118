package org.arunet.video;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageLimits;
import org.arunet.data.io.Raster;
import org.arunet.data.video.FrameSource;
import org.arunet.data.video.VideoFrame;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import org.bytedeco.javacv.FrameGrabber;

/** A video file's first video stream, decoded by FFmpeg one frame at a time (see {@link VideoFiles}). */
final class FfmpegFrameSource implements FrameSource {
    /** The frame rate assumed when a stream states none (or an absurd one). */
    static final double DEFAULT_RATE = 30;

    private final Path file;
    private final FFmpegFrameGrabber grabber;
    private final int width;
    private final int height;
    private final int channels;
    private final double rate;
    private final int declared;
    private int next;
    private long firstTimestamp = -1;
    private boolean ended;
    private boolean closed;

    private FfmpegFrameSource(
            Path file, FFmpegFrameGrabber grabber, int width, int height, int channels, double rate, int declared) {
        this.file = file;
        this.grabber = grabber;
        this.width = width;
        this.height = height;
        this.channels = channels;
        this.rate = rate;
        this.declared = declared;
    }

    static FfmpegFrameSource open(Path file, ColorMode mode, ImageLimits limits) {
        Ffmpeg.init();
        FFmpegFrameGrabber g = new FFmpegFrameGrabber(file.toFile());
        int channels = mode == ColorMode.GREY ? 1 : 3;
        g.setPixelFormat(channels == 1 ? avutil.AV_PIX_FMT_GRAY8 : avutil.AV_PIX_FMT_RGB24);
        // The decoder refuses frames beyond the limit itself, before allocating them.
        g.setVideoOption("max_pixels", Long.toString(Math.min(Integer.MAX_VALUE, limits.maxPixels())));
        try {
            g.start();
        } catch (FrameGrabber.Exception | RuntimeException e) {
            release(g);
            throw new DataException(file, "not a video FFmpeg can read (" + describe(e) + ")", e);
        }
        try {
            if (!g.hasVideo()) {
                throw new DataException(file, "the file has no video stream");
            }
            int w = g.getImageWidth();
            int h = g.getImageHeight();
            if (w < 1 || h < 1) {
                throw new DataException(file, "the video stream declares no frame size (" + w + "x" + h + ")");
            }
            if (w > limits.maxSide() || h > limits.maxSide() || (long) w * h > limits.maxPixels()) {
                throw new DataException(
                        file,
                        "declared frame size " + w + "x" + h + " is beyond the limits (" + limits.maxSide()
                                + " pixels a side, " + limits.maxPixels() + " pixels); refused");
            }
            double r = g.getVideoFrameRate();
            double rate = r > 0 && r <= 10_000 && Double.isFinite(r) ? r : DEFAULT_RATE;
            int n = g.getLengthInVideoFrames();
            return new FfmpegFrameSource(file, g, w, h, channels, rate, n > 0 ? n : -1);
        } catch (RuntimeException | Error e) {
            release(g);
            throw e;
        }
    }

    @Override
    public String name() {
        return file.toString();
    }

    @Override
    public double frameRate() {
        return rate;
    }

    @Override
    public int declaredFrames() {
        return declared;
    }

    @Override
    public String noSpacingReason() {
        return "a video file states no pixel spacing";
    }

    @Override
    public synchronized VideoFrame next() {
        if (closed || ended) {
            return null;
        }
        Frame f;
        try {
            f = grabber.grabImage();
        } catch (FrameGrabber.Exception | RuntimeException e) {
            ended = true;
            throw new DataException(file, "frame " + next + " cannot be decoded (" + describe(e) + ")", e);
        }
        if (f == null || f.image == null) {
            ended = true;
            return null;
        }
        // (JavaCV derives Frame.imageChannels from the row stride, which FFmpeg pads: the row stride is
        // checked instead.)
        if (f.imageWidth != width || f.imageHeight != height || f.imageStride < width * channels) {
            ended = true;
            throw new DataException(
                    file,
                    "frame " + next + " is " + f.imageWidth + "x" + f.imageHeight + " (row stride " + f.imageStride
                            + ") but the stream declared " + width + "x" + height + "x" + channels);
        }
        ByteBuffer src = (ByteBuffer) f.image[0];
        int row = width * channels;
        byte[] px = new byte[row * height];
        for (int y = 0; y < height; y++) {
            src.position(y * f.imageStride);
            src.get(px, y * row, row);
        }
        src.rewind();
        // Times from the first frame's (a stream may start at a non-zero time); frame count / rate where
        // the container gives no time.
        if (firstTimestamp < 0) {
            firstTimestamp = f.timestamp;
        }
        double t = f.timestamp >= firstTimestamp ? (f.timestamp - firstTimestamp) / 1e6 : next / rate;
        return new VideoFrame(next++, t, new Raster(width, height, channels, 8, px));
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            release(grabber);
        }
    }

    private static void release(FFmpegFrameGrabber g) {
        try {
            g.close();
        } catch (FrameGrabber.Exception e) {
            // nothing more can be freed; the grabber's native memory is released either way
        }
    }

    static String describe(Throwable e) {
        String m = e.getMessage();
        if (m == null) {
            return e.getClass().getSimpleName();
        }
        int cut = m.indexOf(" (For more details");
        return cut > 0 ? m.substring(0, cut) : m;
    }
}
