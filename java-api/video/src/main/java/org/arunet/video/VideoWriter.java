package org.arunet.video;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.arunet.data.io.Raster;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.FrameRecorder;

/**
 * Writes 8-bit RGB frames as a video file: {@code .mp4}/{@code .m4v}/{@code .mov} as H.264 where this
 * FFmpeg build has an H.264 encoder, else MPEG-4 Part 2; {@code .avi} as Motion JPEG; {@code .mkv} as
 * H.264 or MPEG-4. Frames of odd width or height are padded by one black column or row (the YUV 4:2:0
 * formats need even sizes). {@link #close()} finishes the file (a stopped writer leaves a playable file of
 * the frames written so far). Not thread-safe.
 */
public final class VideoWriter implements AutoCloseable {
    private final Path file;
    private final FFmpegFrameRecorder recorder;
    private final int width;
    private final int height;
    private final int codedWidth;
    private final int codedHeight;
    private final ByteBuffer frame;
    private final String codec;
    private long frames;
    private boolean closed;

    private VideoWriter(Path file, FFmpegFrameRecorder recorder, int w, int h, int cw, int ch, String codec) {
        this.file = file;
        this.recorder = recorder;
        this.width = w;
        this.height = h;
        this.codedWidth = cw;
        this.codedHeight = ch;
        this.codec = codec;
        this.frame = ByteBuffer.allocateDirect(cw * ch * 3);
    }

    /**
     * Creates (or replaces) {@code file} for frames of {@code width x height} at {@code frameRate} frames/s.
     *
     * @param quality 1 (best) to 31 for MJPEG and MPEG-4; H.264 uses its constant-rate factor 18 (visually
     *     lossless) whatever is given
     */
    public static VideoWriter create(Path file, int width, int height, double frameRate, int quality)
            throws java.io.IOException {
        if (width < 1 || height < 1 || width > 16384 || height > 16384) {
            throw new IllegalArgumentException(file + ": frame size " + width + "x" + height + " is not writable");
        }
        if (!(frameRate > 0 && frameRate <= 1000)) {
            throw new IllegalArgumentException(file + ": frame rate " + frameRate + " is not in (0, 1000]");
        }
        if (quality < 1 || quality > 31) {
            throw new IllegalArgumentException("quality " + quality + " is not in 1..31");
        }
        Ffmpeg.init();
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        String ext = n.contains(".") ? n.substring(n.lastIndexOf('.') + 1) : "";
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        int cw = (width + 1) & ~1;
        int ch = (height + 1) & ~1;
        FFmpegFrameRecorder r = new FFmpegFrameRecorder(file.toFile(), cw, ch, 0);
        r.setFrameRate(frameRate);
        String codec;
        switch (ext) {
            case "avi" -> {
                r.setFormat("avi");
                r.setVideoCodec(avcodec.AV_CODEC_ID_MJPEG);
                r.setPixelFormat(avutil.AV_PIX_FMT_YUVJ420P);
                r.setVideoQuality(quality);
                codec = "mjpeg";
            }
            case "mp4", "m4v", "mov", "mkv" -> {
                r.setFormat(ext.equals("m4v") ? "mp4" : ext.equals("mkv") ? "matroska" : ext);
                r.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
                org.bytedeco.ffmpeg.avcodec.AVCodec h264 = avcodec.avcodec_find_encoder(avcodec.AV_CODEC_ID_H264);
                if (h264 != null && !h264.isNull()) {
                    r.setVideoCodec(avcodec.AV_CODEC_ID_H264);
                    // This FFmpeg build's H.264 encoder is rate-controlled: about 1.5 bits a pixel keeps
                    // grey-level errors near those of MJPEG at quality 2.
                    r.setVideoBitrate((int) Math.min(Integer.MAX_VALUE, Math.max(1e6, 1.5 * cw * ch * frameRate)));
                    codec = "h264 (" + h264.name().getString() + ")";
                } else {
                    r.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
                    r.setVideoQuality(quality);
                    codec = "mpeg4";
                }
            }
            default ->
                throw new IllegalArgumentException(
                        file + ": unsupported video extension '" + ext + "' (write .mp4, .m4v, .mov, .mkv or .avi)");
        }
        try {
            r.start();
        } catch (FrameRecorder.Exception | RuntimeException e) {
            try {
                r.close();
            } catch (FrameRecorder.Exception ignored) {
                // the start failure is the error to report
            }
            throw new java.io.IOException(
                    file + ": cannot start a " + codec + " video (" + FfmpegFrameSource.describe(e) + ")", e);
        }
        return new VideoWriter(file, r, width, height, cw, ch, codec);
    }

    /** The codec chosen: {@code h264 (encoder name)}, {@code mpeg4} or {@code mjpeg}. */
    public String codec() {
        return codec;
    }

    public long framesWritten() {
        return frames;
    }

    /**
     * Appends one frame: 8-bit, 3 channels RGB (or 1 channel grey, written as grey), of the writer's size.
     */
    public void write(Raster image) throws java.io.IOException {
        if (closed) {
            throw new IllegalStateException(file + ": the video writer is closed");
        }
        if (image.width() != width
                || image.height() != height
                || image.bitDepth() != 8
                || (image.channels() != 3 && image.channels() != 1)) {
            throw new IllegalArgumentException(file + ": frame " + image.width() + "x" + image.height() + "x"
                    + image.channels() + " (" + image.bitDepth() + "-bit) does not fit a " + width + "x" + height
                    + " 8-bit RGB video");
        }
        byte[] px = image.data();
        int c = image.channels();
        frame.clear();
        byte[] row = new byte[codedWidth * 3];
        for (int y = 0; y < codedHeight; y++) {
            java.util.Arrays.fill(row, (byte) 0);
            if (y < height) {
                if (c == 3) {
                    System.arraycopy(px, y * width * 3, row, 0, width * 3);
                } else {
                    for (int x = 0; x < width; x++) {
                        byte v = px[y * width + x];
                        row[3 * x] = v;
                        row[3 * x + 1] = v;
                        row[3 * x + 2] = v;
                    }
                }
            }
            frame.put(row);
        }
        frame.flip();
        try {
            recorder.recordImage(
                    codedWidth,
                    codedHeight,
                    org.bytedeco.javacv.Frame.DEPTH_UBYTE,
                    3,
                    codedWidth * 3,
                    avutil.AV_PIX_FMT_RGB24,
                    frame);
        } catch (FrameRecorder.Exception e) {
            throw new java.io.IOException(
                    file + ": frame " + frames + " cannot be encoded (" + FfmpegFrameSource.describe(e) + ")", e);
        }
        frames++;
    }

    /** Finishes the file (flushes the encoder, writes the container's index) and frees the encoder. */
    @Override
    public void close() throws java.io.IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            recorder.close();
        } catch (FrameRecorder.Exception e) {
            throw new java.io.IOException(
                    file + ": cannot finish the video (" + FfmpegFrameSource.describe(e) + ")", e);
        }
    }
}
