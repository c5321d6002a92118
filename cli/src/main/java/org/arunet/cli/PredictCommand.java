package org.arunet.cli;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.arunet.data.io.ImageFormat;
import org.arunet.data.io.ImageHeader;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.infer.Segmentation;
import org.arunet.infer.Segmenter;
import org.arunet.report.Overlays;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "predict", mixinStandardHelpOptions = true, showDefaultValues = true, usageHelpAutoWidth = true,
        description = {"Segment images with a shipped model (--model busi-compact) or a checkpoint: one mask PNG per"
                + " image (0 = background, 255 = lesion) in --out, at the image's own size, and an overlay per image in"
                + " --out/overlays.",
            "Inputs are files, folders (their images, not recursive) or quoted globs like 'scans/*.png'."})
final class PredictCommand extends BaseCommand {
    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "Image files, folders or globs.")
    List<String> inputs;

    @Mixin
    ModelRef model = new ModelRef();

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "predictions", description = "Output folder.")
    Path out;

    @Option(names = "--overlays", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Also write overlays (the image with the predicted lesion outlined in red) to --out/overlays.")
    boolean overlays;

    @Option(names = "--csv", description = "Also write --out/predictions.csv: lesion area, bounding box and mean"
            + " lesion probability per image.")
    boolean csv;

    @Option(names = "--tta", description = "Average with the prediction of the mirrored image.")
    boolean tta;

    @Option(names = "--largest-component", description = "Keep only the largest predicted lesion.")
    boolean largest;

    @Mixin
    ComputeOptions compute = new ComputeOptions();

    @Option(names = "--force", description = "Overwrite existing masks in --out.")
    boolean force;

    @Override
    int run() throws Exception {
        Path checkpoint = model.checkpoint();
        List<Path> files = expand(inputs);
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no images found in " + inputs);
        }
        Map<String, Path> byStem = new HashMap<>();
        for (Path f : files) {
            Path prev = byStem.put(Segmenter.stem(f), f);
            if (prev != null) {
                throw new IllegalArgumentException("two inputs would write the same mask " + Segmenter.stem(f)
                        + ".png: " + prev + " and " + f);
            }
        }
        prepareOut(out, null, true);
        if (!force) {
            for (Path f : files) {
                Path m = out.resolve(Segmenter.stem(f) + ".png");
                if (Files.exists(m)) {
                    throw new Errors.UsageException(m + " already exists; add --force to overwrite");
                }
            }
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        ImageReader reader = new ImageReader();
        try (Segmenter seg = Segmenter.builder(checkpoint).device(compute.device).threads(compute.threads)
                .precision(compute.precision).flipTta(tta)
                .largestComponent(largest).build()) {
            int i = 0;
            long last = System.nanoTime();
            for (Path f : files) {
                Raster image;
                Segmentation s;
                try {
                    image = reader.readImage(f, seg.preprocessing().colorMode());
                    s = seg.segment(image);
                } catch (OutOfMemoryError e) {
                    throw outOfMemory(f, reader, e);
                }
                String stem = Segmenter.stem(f);
                Path mask = out.resolve(stem + ".png");
                s.writeMask(mask);
                if (overlays) {
                    Overlays.write(image, null, s.mask(), out.resolve("overlays").resolve(stem + ".png"));
                }
                rows.add(row(f, mask, s));
                i++;
                if (System.nanoTime() - last > 10_000_000_000L || i == files.size()) {
                    info().printf("segmented %d/%d images%n", i, files.size());
                    last = System.nanoTime();
                }
            }
        }
        if (csv) {
            writeCsv(rows, out.resolve("predictions.csv"));
        }
        if (json) {
            printJson(rows);
        } else {
            System.out.printf("%d masks written to %s%n", rows.size(), out);
        }
        return 0;
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

    private static Map<String, Object> row(Path f, Path mask, Segmentation s) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("image", f.toString());
        r.put("mask", mask.toString());
        r.put("width", s.width());
        r.put("height", s.height());
        r.put("lesion_pixels", s.lesionPixels());
        r.put("lesion_fraction", s.lesionFraction());
        int[] b = s.boundingBox();
        r.put("bbox", b == null ? null : List.of(b[0], b[1], b[2], b[3]));
        r.put("mean_lesion_probability", s.meanLesionProbability());
        return r;
    }

    private static void writeCsv(List<Map<String, Object>> rows, Path file) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write("image,width,height,lesion_pixels,lesion_fraction,bbox_x,bbox_y,bbox_w,bbox_h,"
                    + "mean_lesion_probability\n");
            for (Map<String, Object> r : rows) {
                @SuppressWarnings("unchecked")
                List<Integer> b = (List<Integer>) r.get("bbox");
                Double p = (Double) r.get("mean_lesion_probability");
                String img = r.get("image").toString();
                w.write(String.format(Locale.ROOT, "%s,%d,%d,%d,%.6f,%s,%s%n",
                        img.contains(",") || img.contains("\"") ? "\"" + img.replace("\"", "\"\"") + "\"" : img,
                        r.get("width"), r.get("height"), r.get("lesion_pixels"), r.get("lesion_fraction"),
                        b == null ? ",,," : b.get(0) + "," + b.get(1) + "," + b.get(2) + "," + b.get(3),
                        p == null || p.isNaN() ? "" : String.format(Locale.ROOT, "%.6f", p)));
            }
        }
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
                    s.filter(Files::isRegularFile).filter(f -> ImageFormat.hasImageExtension(f.getFileName().toString()))
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
