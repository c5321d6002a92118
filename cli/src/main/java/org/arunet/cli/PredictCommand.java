package org.arunet.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.LongSupplier;
import java.util.stream.Stream;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageFormat;
import org.arunet.data.io.ImageFrames;
import org.arunet.data.io.ImageHeader;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.PixelSpacing;
import org.arunet.data.io.Raster;
import org.arunet.data.video.FrameSource;
import org.arunet.data.video.FrameSources;
import org.arunet.infer.Segmentation;
import org.arunet.infer.Segmenter;
import org.arunet.infer.StreamOptions;
import org.arunet.report.Overlays;
import org.arunet.video.VideoFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "predict",
        mixinStandardHelpOptions = true,
        showDefaultValues = true,
        usageHelpAutoWidth = true,
        description = {
            "Segment images with a shipped model (--model busi-compact) or a checkpoint: one mask PNG per"
                    + " image (0 = background, 255 = lesion) in --out, at the image's own size, and an overlay per image in"
                    + " --out/overlays.",
            "Inputs are files, folders (their images, not recursive; a .dcm or an extension-less DICOM file counts)"
                    + " or quoted globs like 'scans/*.png'. A multi-frame DICOM gets one mask per frame in"
                    + " --out/<name>_frames/frame_0001.png, ...",
            "A video file (.mp4, .avi, .mov, .mkv, ...; or, with --cine, a folder of numbered frames or a multi-frame"
                    + " DICOM) is segmented as a clip, frame after frame: --out/<name>_overlay.<ext> (the clip with the"
                    + " lesion outlined, same frame rate) and --out/<name>_frames.csv (frame, time, lesion area px and mm²"
                    + " where known, bounding box, mean probability, latency); the frames/s achieved are printed.",
            "A file that cannot be read or segmented is reported on one line and in --out/failures.csv, and the"
                    + " run goes on (exit 1 at the end if any failed); --fail-fast stops at the first. A stopped run"
                    + " resumes: images whose masks exist are skipped unless --force."
        })
final class PredictCommand extends BaseCommand {
    /** Columns of predictions.csv. */
    static final String CSV_HEADER = "image,frame,width,height,lesion_pixels,lesion_fraction,bbox_x,bbox_y,bbox_w,"
            + "bbox_h,mean_lesion_probability,pixel_spacing_row_mm,pixel_spacing_col_mm,pixel_spacing_source,"
            + "lesion_area_mm2,bbox_x_mm,bbox_y_mm,bbox_w_mm,bbox_h_mm";
    /** What the millimetre columns hold when the file states no pixel spacing (never a guess). */
    static final String UNKNOWN = "unknown";

    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "Image files, folders or globs.")
    List<String> inputs;

    @Mixin
    ModelRef model = new ModelRef();

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "predictions", description = "Output folder.")
    Path out;

    @Option(
            names = "--overlays",
            negatable = true,
            defaultValue = "true",
            fallbackValue = "true",
            description =
                    "Also write overlays (the image with the predicted lesion outlined in red) to --out/overlays.")
    boolean overlays;

    @Option(
            names = "--csv",
            description = "Also write --out/predictions.csv: lesion area, bounding box and mean"
                    + " lesion probability per image (and frame), in pixels and, where the file states its pixel spacing"
                    + " (DICOM), in mm ('unknown' where it does not).")
    boolean csv;

    @Option(names = "--tta", description = "Average with the prediction of the mirrored image.")
    boolean tta;

    @Option(names = "--largest-component", description = "Keep only the largest predicted lesion.")
    boolean largest;

    @Mixin
    ComputeOptions compute = new ComputeOptions();

    @Option(
            names = "--force",
            description = "Segment every input again, overwriting existing masks (default: skip"
                    + " inputs whose masks exist, to resume a stopped run).")
    boolean force;

    @Option(
            names = "--cine",
            description = "Segment each folder input as one clip of numbered frames (frame_1.png, frame_2.png, ...)"
                    + " and each multi-frame DICOM as a clip, as video files are.")
    boolean cine;

    @Option(
            names = "--frame-rate",
            defaultValue = "30",
            description = "Frames/s of --cine folders and DICOM clips (they state none; video files do).")
    double frameRate;

    @Option(
            names = "--max-fps",
            defaultValue = "0",
            description = "Read clips no faster than this many frames/s (pacing for live display; 0 = as fast as"
                    + " possible).")
    double maxFps;

    @Option(
            names = "--smoothing",
            defaultValue = "1",
            description = "Temporal smoothing of clips: weight of the new frame in an exponential moving average of"
                    + " the class probabilities across frames, in (0, 1]; 1 = off (each frame segmented on its own).")
    double smoothing;

    @Option(names = "--fail-fast", description = "Stop at the first file that cannot be read or segmented (exit 1).")
    boolean failFast;

    @Override
    int run() throws Exception {
        Path checkpoint = model.checkpoint();
        List<Path> clips = new ArrayList<>();
        List<String> stills = new ArrayList<>();
        for (String in : inputs) {
            Path p = globChars(in) ? null : Path.of(in);
            if (p != null && cine && (Files.isDirectory(p) || Files.isRegularFile(p))) {
                clips.add(p);
            } else {
                stills.add(in);
            }
        }
        List<Path> files = stills.isEmpty() ? new ArrayList<>() : expand(stills);
        for (java.util.Iterator<Path> it = files.iterator(); it.hasNext(); ) {
            Path f = it.next();
            if (VideoFiles.isVideoFile(f)) {
                clips.add(f);
                it.remove();
            }
        }
        if (files.isEmpty() && clips.isEmpty()) {
            throw new IllegalArgumentException("no images found in " + inputs);
        }
        prepareOut(out, null, true);
        Files.deleteIfExists(out.resolve("failures.csv")); // this run's failures only: earlier ones are retried
        int clipFailures = 0;
        if (!clips.isEmpty()) {
            clipFailures = runClips(checkpoint, clips);
            if (files.isEmpty()) {
                return clipFailures > 0 ? 1 : 0;
            }
        }
        Map<String, Path> byStem = new HashMap<>();
        for (Path f : files) {
            Path prev = byStem.put(Segmenter.stem(f), f);
            if (prev != null) {
                throw new IllegalArgumentException(
                        "two inputs would write the same mask " + Segmenter.stem(f) + ".png: " + prev + " and " + f);
            }
        }
        Path csvFile = out.resolve("predictions.csv");
        Path failuresFile = out.resolve("failures.csv");
        // Rows of earlier runs, by image and frame, kept for the images this run skips.
        Map<String, String> earlierRows = csv && !force ? readRows(csvFile) : new HashMap<>();
        Map<String, String> rows = new LinkedHashMap<>();
        List<Map<String, Object>> results = new ArrayList<>();
        List<String[]> failures = new ArrayList<>();
        ImageReader reader = new ImageReader();
        int skipped = 0;
        int masks = 0;
        try (Segmenter seg = Segmenter.builder(checkpoint)
                .device(compute.device)
                .threads(compute.threads)
                .precision(compute.precision)
                .flipTta(tta)
                .largestComponent(largest)
                .build()) {
            BatchProgress progress = new BatchProgress(info(), files.size());
            for (Path f : files) {
                String stem = Segmenter.stem(f);
                Path single = out.resolve(stem + ".png");
                try {
                    if (!force && Files.exists(single) && (!csv || earlierRows.containsKey(key(f, 0)))) {
                        rows.put(key(f, 0), earlierRows.get(key(f, 0)));
                        skipped++;
                        progress.step(true, false);
                        continue;
                    }
                    ImageFrames frames;
                    try {
                        frames = reader.open(f, seg.preprocessing().colorMode());
                    } catch (OutOfMemoryError e) {
                        throw outOfMemory(f, reader, e);
                    }
                    int n = frames.count();
                    if (n > 1 && !force && allFramesDone(f, n, earlierRows)) {
                        for (int i = 1; i <= n; i++) {
                            rows.put(key(f, i), earlierRows.get(key(f, i)));
                        }
                        skipped++;
                        progress.step(true, false);
                        continue;
                    }
                    PixelSpacing spacing = frames.spacing().orElse(null);
                    String noSpacing = frames.noSpacingReason();
                    for (int i = 0; i < n; i++) {
                        Raster image;
                        Segmentation s;
                        try {
                            image = frames.frame(i);
                            s = seg.segment(image).withSpacing(spacing);
                        } catch (OutOfMemoryError e) {
                            throw outOfMemory(f, reader, e);
                        }
                        Path mask = n == 1 ? single : frameMask(f, i);
                        writeAtomically(mask, s::writeMask);
                        if (overlays) {
                            Path o = out.resolve("overlays").resolve(out.relativize(mask));
                            writeAtomically(o, p -> Overlays.write(image, null, s.mask(), p));
                        }
                        int frame = n == 1 ? 0 : i + 1;
                        Map<String, Object> r = row(f, frame, mask, s, noSpacing);
                        results.add(r);
                        rows.put(key(f, frame), csvLine(r));
                        masks++;
                    }
                    progress.step(false, false);
                } catch (IOException | RuntimeException e) {
                    if (failFast) {
                        throw e;
                    }
                    String msg = e instanceof DataException ? e.getMessage() : f + ": " + describe(e);
                    System.err.println("FAILED " + msg);
                    failures.add(new String[] {f.toString(), msg});
                    appendFailure(failuresFile, f, msg, !Files.exists(failuresFile));
                    progress.step(false, true);
                }
                if (csv && progress.due()) {
                    writeCsv(rows, csvFile); // a stopped run keeps the rows of what it finished
                }
            }
        }
        if (csv) {
            writeCsv(rows, csvFile);
        }
        if (json) {
            printJson(results);
        } else {
            System.out.printf(
                    "%d masks written to %s%s%s%n",
                    masks,
                    out,
                    skipped > 0 ? "; " + skipped + " input(s) skipped, their masks exist (--force redoes them)" : "",
                    failures.isEmpty() ? "" : "; " + failures.size() + " failed, listed in " + failuresFile);
        }
        if (!failures.isEmpty()) {
            info().printf("%d of %d input(s) failed; see %s%n", failures.size(), files.size(), failuresFile);
            return 1;
        }
        return clipFailures > 0 ? 1 : 0;
    }

    /** Segments each clip as a stream; returns how many failed (each reported, the others go on). */
    private int runClips(Path checkpoint, List<Path> clips) throws IOException {
        StreamOptions options;
        try {
            options = StreamOptions.defaults().withSmoothing(smoothing).withMaxFps(maxFps);
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException("--smoothing / --max-fps: " + e.getMessage());
        }
        Map<String, Path> byStem = new HashMap<>();
        for (Path c : clips) {
            Path prev = byStem.put(Segmenter.stem(c), c);
            if (prev != null) {
                throw new IllegalArgumentException("two clips would write the same outputs " + Segmenter.stem(c)
                        + "_overlay.*: " + prev + " and " + c);
            }
        }
        List<Map<String, Object>> results = new ArrayList<>();
        int failed = 0;
        try (Segmenter seg = Segmenter.builder(checkpoint)
                .device(compute.device)
                .threads(compute.threads)
                .precision(compute.precision)
                .flipTta(tta)
                .largestComponent(largest)
                .build()) {
            ImageReader reader = new ImageReader();
            for (Path c : clips) {
                String stem = Segmenter.stem(c);
                String ext = VideoFiles.isVideoFile(c)
                        ? c.getFileName().toString().replaceAll(".*\\.", "").toLowerCase(Locale.ROOT)
                        : "mp4";
                if (!List.of("mp4", "m4v", "mov", "mkv", "avi").contains(ext)) {
                    ext = "mp4";
                }
                Map<String, Object> r;
                try {
                    FrameSource src = Files.isDirectory(c)
                            ? FrameSources.folder(
                                    c, frameRate, seg.preprocessing().colorMode(), reader)
                            : VideoFiles.isVideoFile(c)
                                    ? VideoFiles.open(c, seg.preprocessing().colorMode())
                                    : FrameSources.frames(
                                            c, frameRate, seg.preprocessing().colorMode(), reader);
                    r = Cine.run(
                            seg,
                            src,
                            options,
                            out.resolve(stem + "_overlay." + ext),
                            out.resolve(stem + "_frames.csv"),
                            info());
                } catch (DataException e) {
                    r = new LinkedHashMap<>();
                    r.put("input", c.toString());
                    r.put("frames", 0);
                    r.put("error", e.getMessage());
                }
                results.add(r);
                Object err = r.get("error");
                int frames = (Integer) r.get("frames");
                if (err == null && frames == 0) {
                    err = c + ": no frames could be decoded";
                    r.put("error", err);
                }
                if (err != null) {
                    failed++;
                    String msg =
                            err + (frames > 0 ? " (the first " + frames + " frames were segmented and written)" : "");
                    System.err.println("FAILED " + msg);
                    Path failuresFile = out.resolve("failures.csv");
                    appendFailure(failuresFile, c, msg, !Files.exists(failuresFile));
                }
                if (!json && frames > 0) {
                    System.out.printf(
                            Locale.ROOT,
                            "%s: %d frames in %.1f s, %.1f frames/s end to end (latency p50 %.0f ms, p99 %.0f ms)"
                                    + " -> %s, %s%n",
                            c,
                            frames,
                            (Double) r.get("seconds"),
                            (Double) r.get("frames_per_second"),
                            (Double) r.get("latency_ms_p50"),
                            (Double) r.get("latency_ms_p99"),
                            r.get("overlay_video"),
                            r.get("frames_csv"));
                }
            }
        }
        if (json) {
            printJson(results);
        }
        return failed;
    }

    private static boolean globChars(String in) {
        return in.contains("*") || in.contains("?") || in.contains("[") || in.contains("{");
    }

    /** The mask of frame {@code i} (0-based) of a multi-frame input. */
    private Path frameMask(Path f, int i) {
        return out.resolve(Segmenter.stem(f) + "_frames").resolve(String.format(Locale.ROOT, "frame_%04d.png", i + 1));
    }

    private boolean allFramesDone(Path f, int n, Map<String, String> earlierRows) {
        for (int i = 0; i < n; i++) {
            if (!Files.exists(frameMask(f, i)) || (csv && !earlierRows.containsKey(key(f, i + 1)))) {
                return false;
            }
        }
        return true;
    }

    private static String key(Path f, int frame) {
        return csvField(f.toString()) + "," + frame;
    }

    interface FileWriter {
        void write(Path p) throws IOException;
    }

    /** Writes through a temporary file and renames it, so a stopped run never leaves a partial output. */
    private static void writeAtomically(Path target, FileWriter w) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + target.getFileName() + ".tmp");
        try {
            w.write(tmp);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static String describe(Exception e) {
        if (e instanceof java.nio.file.FileSystemException fs) {
            return Errors.describe(fs);
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private static void appendFailure(Path file, Path image, String msg, boolean first) throws IOException {
        try (Writer w = Files.newBufferedWriter(
                file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            if (first) {
                w.write("image,error\n");
            }
            w.write(csvField(image.toString()) + "," + csvField(msg.replace('\n', ' ')) + "\n");
        }
    }

    /** Progress every 10 s (and at the end) with the rate and the time left. */
    static final class BatchProgress {
        private final PrintStream out;
        private final int total;
        private final LongSupplier nanoClock;
        private final long start;
        private long last;
        private long lastCsv;
        private int done;
        private int skipped;
        private int failed;

        BatchProgress(PrintStream out, int total) {
            this(out, total, System::nanoTime);
        }

        BatchProgress(PrintStream out, int total, LongSupplier nanoClock) {
            this.out = out;
            this.total = total;
            this.nanoClock = nanoClock;
            this.start = nanoClock.getAsLong();
            this.last = start;
            this.lastCsv = start;
        }

        void step(boolean skip, boolean fail) {
            done++;
            skipped += skip ? 1 : 0;
            failed += fail ? 1 : 0;
            long now = nanoClock.getAsLong();
            if (now - last > 10_000_000_000L || done == total) {
                int worked = done - skipped;
                double seconds = (now - start) / 1e9;
                double rate = worked / Math.max(seconds, 1e-9);
                String eta = done == total
                        ? "done"
                        : worked == 0 ? "ETA unknown" : "ETA " + Progress.duration((total - done) / rate);
                out.printf(
                        Locale.ROOT,
                        "%d/%d inputs (%d skipped, %d failed), %.2f images/s, %s%n",
                        done,
                        total,
                        skipped,
                        failed,
                        rate,
                        eta);
                last = now;
            }
        }

        /** Whether the CSV is due to be written again (every 30 s). */
        boolean due() {
            long now = nanoClock.getAsLong();
            if (now - lastCsv > 30_000_000_000L) {
                lastCsv = now;
                return true;
            }
            return false;
        }
    }

    /** The error again, naming the image and its size (what the big allocations were for). */
    private static OutOfMemoryError outOfMemory(Path f, ImageReader reader, OutOfMemoryError e) {
        String size = "";
        try {
            ImageHeader h = reader.header(f);
            size = String.format(" (%dx%d)", h.width(), h.height());
        } catch (RuntimeException | OutOfMemoryError ignored) {
            // the size is only a hint
        }
        OutOfMemoryError named = new OutOfMemoryError(e.getMessage() + " while reading and segmenting " + f + size);
        named.initCause(e);
        return named;
    }

    private static Map<String, Object> row(Path f, int frame, Path mask, Segmentation s, String noSpacing) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("image", f.toString());
        r.put("frame", frame);
        r.put("mask", mask.toString());
        r.put("width", s.width());
        r.put("height", s.height());
        r.put("lesion_pixels", s.lesionPixels());
        r.put("lesion_fraction", s.lesionFraction());
        int[] b = s.boundingBox();
        r.put("bbox", b == null ? null : List.of(b[0], b[1], b[2], b[3]));
        r.put("mean_lesion_probability", s.meanLesionProbability());
        PixelSpacing sp = s.spacing();
        if (sp != null) {
            Map<String, Object> spacing = new LinkedHashMap<>();
            spacing.put("row_mm", sp.rowMm());
            spacing.put("col_mm", sp.columnMm());
            spacing.put("source", sp.source());
            r.put("pixel_spacing", spacing);
            r.put("lesion_area_mm2", s.lesionAreaMm2().getAsDouble());
            double[] mm = s.boundingBoxMm();
            r.put("bbox_mm", mm == null ? null : List.of(mm[0], mm[1], mm[2], mm[3]));
        } else {
            r.put("pixel_spacing", null);
            r.put("pixel_spacing_unknown", noSpacing);
        }
        return r;
    }

    /** One line of predictions.csv (without the line break). */
    private static String csvLine(Map<String, Object> r) {
        @SuppressWarnings("unchecked")
        List<Integer> b = (List<Integer>) r.get("bbox");
        Double p = (Double) r.get("mean_lesion_probability");
        StringBuilder line = new StringBuilder(String.format(
                Locale.ROOT,
                "%s,%d,%d,%d,%d,%.6f,%s,%s",
                csvField(r.get("image").toString()),
                r.get("frame"),
                r.get("width"),
                r.get("height"),
                r.get("lesion_pixels"),
                r.get("lesion_fraction"),
                b == null ? ",,," : b.get(0) + "," + b.get(1) + "," + b.get(2) + "," + b.get(3),
                p == null || p.isNaN() ? "" : String.format(Locale.ROOT, "%.6f", p)));
        @SuppressWarnings("unchecked")
        Map<String, Object> sp = (Map<String, Object>) r.get("pixel_spacing");
        if (sp == null) {
            line.append(",,,").append(csvField("none: " + r.get("pixel_spacing_unknown")));
            line.append(("," + UNKNOWN).repeat(5));
        } else {
            line.append(String.format(
                    Locale.ROOT,
                    ",%.6g,%.6g,%s,%.6f",
                    sp.get("row_mm"),
                    sp.get("col_mm"),
                    csvField(sp.get("source").toString()),
                    r.get("lesion_area_mm2")));
            @SuppressWarnings("unchecked")
            List<Double> mm = (List<Double>) r.get("bbox_mm");
            line.append(
                    mm == null
                            ? ",,,,"
                            : String.format(
                                    Locale.ROOT, ",%.4f,%.4f,%.4f,%.4f", mm.get(0), mm.get(1), mm.get(2), mm.get(3)));
        }
        return line.toString();
    }

    static String csvField(String v) {
        return v.contains(",") || v.contains("\"") || v.contains("\n") ? "\"" + v.replace("\"", "\"\"") + "\"" : v;
    }

    /** Rows of an existing predictions.csv by image and frame (empty when there is none or it is of another form). */
    private static Map<String, String> readRows(Path file) throws IOException {
        Map<String, String> m = new HashMap<>();
        if (!Files.isRegularFile(file)) {
            return m;
        }
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty() || !lines.get(0).equals(CSV_HEADER)) {
            return m; // an older or foreign file: its images are segmented again
        }
        for (String line : lines.subList(1, lines.size())) {
            int cut = line.startsWith("\"") ? closingQuote(line) : line.indexOf(',');
            if (cut < 0) {
                continue;
            }
            int second = line.indexOf(',', cut + 1);
            if (second < 0) {
                continue;
            }
            m.put(line.substring(0, second), line);
        }
        return m;
    }

    /** Index of the comma after a quoted first field, or -1. */
    private static int closingQuote(String line) {
        for (int i = 1; i < line.length(); i++) {
            if (line.charAt(i) == '"') {
                if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    i++;
                } else {
                    return i + 1 < line.length() && line.charAt(i + 1) == ',' ? i + 1 : -1;
                }
            }
        }
        return -1;
    }

    /** Writes the rows (in input order) through a temporary file. */
    private static void writeCsv(Map<String, String> rows, Path file) throws IOException {
        writeAtomically(file, p -> {
            try (Writer w = Files.newBufferedWriter(p, StandardCharsets.UTF_8)) {
                w.write(CSV_HEADER + "\n");
                for (String line : rows.values()) {
                    if (line != null) {
                        w.write(line + "\n");
                    }
                }
            }
        });
    }

    /** Files, folder contents and glob matches, sorted and without duplicates. */
    static List<Path> expand(List<String> inputs) throws IOException {
        TreeSet<Path> out = new TreeSet<>();
        for (String in : inputs) {
            if (in.contains("*") || in.contains("?") || in.contains("[") || in.contains("{")) {
                int cut = firstGlobChar(in);
                int slash = in.lastIndexOf('/', cut);
                Path base = slash < 0 ? Path.of(".") : Path.of(in.substring(0, Math.max(slash, 1)));
                PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + in);
                if (Files.isDirectory(base)) {
                    try (Stream<Path> s = Files.walk(base)) {
                        s.filter(Files::isRegularFile)
                                .filter(p -> m.matches(slash < 0 ? base.relativize(p) : p))
                                .forEach(out::add);
                    }
                }
                continue;
            }
            Path p = Path.of(in);
            if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.list(p)) {
                    s.filter(Files::isRegularFile)
                            .filter(ImageFormat::isImageFile)
                            .forEach(out::add);
                }
            } else if (Files.isRegularFile(p)) {
                out.add(p);
            } else {
                throw new IllegalArgumentException(in + ": no such file or folder");
            }
        }
        return new ArrayList<>(out);
    }

    private static int firstGlobChar(String s) {
        for (int i = 0; i < s.length(); i++) {
            if ("*?[{".indexOf(s.charAt(i)) >= 0) {
                return i;
            }
        }
        return s.length();
    }
}
