package org.arunet.data.video;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageFormat;
import org.arunet.data.io.ImageFrames;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.PixelSpacing;
import org.arunet.data.io.Raster;

/**
 * Frame sources that need no video decoder: a folder of numbered frames and a multi-frame DICOM object
 * (cine loop). Video files (MP4, AVI, ...) are opened by {@code org.arunet.video.VideoFiles} in the
 * {@code arunet-video} module.
 */
public final class FrameSources {
    private static final Pattern LAST_NUMBER = Pattern.compile("(\\d+)(?!.*\\d)");

    private FrameSources() {}

    /**
     * The image files of a folder as the frames of one clip, ordered by the last number in their names
     * ({@code frame_2.png} before {@code frame_10.png}; names without a number are refused). Every frame
     * must have the size of the first.
     *
     * @param frameRate frames per second (a folder states none)
     * @throws DataException when the folder holds no image, a name has no number or two names the same one
     */
    public static FrameSource folder(Path dir, double frameRate, ColorMode mode, ImageReader reader) {
        checkRate(frameRate, dir);
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = new ArrayList<>(s.filter(Files::isRegularFile)
                    .filter(ImageFormat::isImageFile)
                    .toList());
        } catch (IOException e) {
            throw new DataException(dir, "cannot list the folder: " + e.getMessage(), e);
        }
        if (files.isEmpty()) {
            throw new DataException(dir, "no image files in the folder: a clip needs at least one frame");
        }
        List<long[]> numbered = new ArrayList<>();
        for (int i = 0; i < files.size(); i++) {
            String name = files.get(i).getFileName().toString();
            int dot = name.lastIndexOf('.');
            Matcher m = LAST_NUMBER.matcher(dot > 0 ? name.substring(0, dot) : name);
            if (!m.find() || m.group(1).length() > 18) {
                throw new DataException(
                        files.get(i),
                        "a frame of a numbered folder needs a frame number in its name (e.g. frame_0001.png)");
            }
            numbered.add(new long[] {Long.parseLong(m.group(1)), i});
        }
        numbered.sort(Comparator.comparingLong(a -> a[0]));
        List<Path> ordered = new ArrayList<>();
        for (int i = 0; i < numbered.size(); i++) {
            if (i > 0 && numbered.get(i)[0] == numbered.get(i - 1)[0]) {
                throw new DataException(
                        dir,
                        "two frames have the number " + numbered.get(i)[0] + ": "
                                + files.get((int) numbered.get(i - 1)[1]).getFileName() + " and "
                                + files.get((int) numbered.get(i)[1]).getFileName());
            }
            ordered.add(files.get((int) numbered.get(i)[1]));
        }
        return new FolderSource(dir, List.copyOf(ordered), frameRate, mode, reader);
    }

    /**
     * The frames of an image file as a clip: a multi-frame DICOM object (cine loop), or a single image
     * as a clip of one frame.
     *
     * @param frameRate frames per second; DICOM's frame timing is not read, so the caller states it
     */
    public static FrameSource frames(Path file, double frameRate, ColorMode mode, ImageReader reader) {
        checkRate(frameRate, file);
        ImageFrames frames = reader.open(file, mode);
        return new FramesSource(file, frames, frameRate);
    }

    private static void checkRate(double frameRate, Path p) {
        if (!(frameRate > 0 && frameRate <= 10_000)) {
            throw new IllegalArgumentException(p + ": frame rate " + frameRate + " is not in (0, 10000] frames/s");
        }
    }

    private static final class FolderSource implements FrameSource {
        private final Path dir;
        private final List<Path> files;
        private final double rate;
        private final ColorMode mode;
        private final ImageReader reader;
        private int next;
        private int width = -1;
        private int height;
        private volatile boolean closed;

        FolderSource(Path dir, List<Path> files, double rate, ColorMode mode, ImageReader reader) {
            this.dir = dir;
            this.files = files;
            this.rate = rate;
            this.mode = mode;
            this.reader = reader;
        }

        @Override
        public String name() {
            return dir.toString();
        }

        @Override
        public double frameRate() {
            return rate;
        }

        @Override
        public int declaredFrames() {
            return files.size();
        }

        @Override
        public VideoFrame next() {
            if (closed || next >= files.size()) {
                return null;
            }
            Path f = files.get(next);
            Raster r = reader.readImage(f, mode);
            if (width < 0) {
                width = r.width();
                height = r.height();
            } else if (r.width() != width || r.height() != height) {
                throw new DataException(
                        f,
                        "frame " + next + " is " + r.width() + "x" + r.height() + " but the clip's first frame is "
                                + width + "x" + height);
            }
            VideoFrame v = new VideoFrame(next, next / rate, r);
            next++;
            return v;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private static final class FramesSource implements FrameSource {
        private final Path file;
        private final ImageFrames frames;
        private final double rate;
        private int next;
        private volatile boolean closed;

        FramesSource(Path file, ImageFrames frames, double rate) {
            this.file = file;
            this.frames = frames;
            this.rate = rate;
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
            return frames.count();
        }

        @Override
        public Optional<PixelSpacing> spacing() {
            return frames.spacing();
        }

        @Override
        public String noSpacingReason() {
            return frames.noSpacingReason();
        }

        @Override
        public VideoFrame next() {
            if (closed || next >= frames.count()) {
                return null;
            }
            VideoFrame v = new VideoFrame(next, next / rate, frames.frame(next));
            next++;
            return v;
        }

        @Override
        public void close() {
            closed = true;
        }
    }
}
