package org.arunet.data.dataset;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds image/mask pairs on disk and describes them as a {@link SegmentationDataset}. Nothing is
 * decoded here; the loader decodes and validates every pixel.
 *
 * <pre>{@code
 * SegmentationDataset busi = Datasets.scan(Path.of("data/busi"));                 // benign + malignant
 * SegmentationDataset all  = Datasets.scan(root, ScanOptions.builder().includeNormal(true).build());
 * SegmentationDataset mine = Datasets.scan(Path.of("data/manifest.csv"));        // CSV manifest
 * }</pre>
 *
 * <p>Layouts (see {@link Layout}), detected in this order: {@code images/} + {@code masks/} folders;
 * a {@code .csv} path or a folder holding exactly one CSV manifest with {@code image} and
 * {@code mask} columns; class folders with {@code <name>_mask.<ext>} files (the BUSI release, also
 * when wrapped in a single folder such as {@code Dataset_BUSI_with_GT/}).
 *
 * <p>A missing image or mask is a bad item ({@link BadItemPolicy}); paths leaving the dataset root,
 * ambiguous matches and malformed manifests always fail. An empty result fails. Samples are sorted by
 * id, so a scan of the same files always gives the same dataset.
 */
public final class Datasets {
    private static final Logger LOG = LoggerFactory.getLogger(Datasets.class);
    private static final Pattern BUSI_MASK = Pattern.compile("^(.*)_mask(?:_(\\d+))?\\.([A-Za-z]+)$");
    private static final Pattern NAME_PREFIX = Pattern.compile("^([A-Za-z]+)(?:[ _\\-(.0-9]|$)");

    private Datasets() {}

    /** {@link #scan(Path, ScanOptions)} with {@link ScanOptions#defaults()}. */
    public static SegmentationDataset scan(Path path) {
        return scan(path, ScanOptions.defaults());
    }

    /** Scans a folder (or CSV manifest) in the given or detected layout. */
    public static SegmentationDataset scan(Path path, ScanOptions options) {
        Path p = path.toAbsolutePath().normalize();
        Layout layout = options.layout() != null ? options.layout() : detect(p);
        return switch (layout) {
            case PAIRED_FOLDERS -> pairedFolders(p, options);
            case BUSI_ORIGINAL -> busiOriginal(p, options);
            case CSV -> csv(Files.isDirectory(p) ? findManifest(p) : p, options);
            case EXPLICIT -> throw new IllegalArgumentException("EXPLICIT datasets are made with Datasets.builder()");
        };
    }

    /** The layout of {@code path}; a {@link DataException} naming it when none is recognised. */
    public static Layout detect(Path path) {
        Path p = path.toAbsolutePath().normalize();
        if (Files.isRegularFile(p)
                && p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".csv")) {
            return Layout.CSV;
        }
        if (!Files.exists(p)) {
            throw new DataException(p, "dataset path does not exist");
        }
        if (!Files.isDirectory(p)) {
            throw new DataException(p, "dataset path is neither a folder nor a .csv manifest");
        }
        if (Files.isDirectory(p.resolve("images")) && Files.isDirectory(p.resolve("masks"))) {
            return Layout.PAIRED_FOLDERS;
        }
        if (!manifests(p).isEmpty()) {
            return Layout.CSV;
        }
        if (busiRoot(p) != null) {
            return Layout.BUSI_ORIGINAL;
        }
        throw new DataException(
                p,
                "no known dataset layout: expected images/ and masks/ folders, a CSV manifest "
                        + "with image and mask columns, or class folders holding <name>.png with <name>_mask.png (BUSI)");
    }

    // ---- images/ + masks/

    /** Reads the {@link Layout#PAIRED_FOLDERS} layout under {@code root}. */
    public static SegmentationDataset pairedFolders(Path root, ScanOptions options) {
        Path r = root.toAbsolutePath().normalize();
        Path imagesDir = r.resolve("images");
        Path masksDir = r.resolve("masks");
        for (Path d : List.of(imagesDir, masksDir)) {
            if (!Files.isDirectory(d)) {
                throw new DataException(d, "folder does not exist (layout images/ + masks/)");
            }
        }
        Collector col = new Collector(options);
        Map<String, List<Path>> masksByKey = byStemKey(masksDir, col);
        Map<String, List<Path>> imagesByKey = byStemKey(imagesDir, col);
        List<Sample> samples = new ArrayList<>();
        for (Map.Entry<String, List<Path>> e : imagesByKey.entrySet()) {
            String key = e.getKey();
            List<Path> images = e.getValue();
            List<Path> masks = masksByKey.remove(key);
            if (images.size() > 1) {
                col.bad(images.get(0), "ambiguous: several images share the name " + key + ".*: " + images);
                continue;
            }
            Path image = images.get(0);
            if (masks == null) {
                col.bad(image, "no mask: expected a file masks/" + key + ".<png|jpg|bmp|tif> under " + r);
                continue;
            }
            if (masks.size() > 1) {
                col.bad(image, "ambiguous: several masks share the name " + key + ".*: " + masks);
                continue;
            }
            Path rel = imagesDir.relativize(image);
            String folder = rel.getNameCount() > 1 ? rel.getName(0).toString() : null;
            samples.add(new Sample(relativeId(r, image), image, masks, label(options, null, folder, image), ""));
        }
        for (List<Path> orphans : masksByKey.values()) {
            for (Path m : orphans) {
                col.warn(m, "mask without an image, ignored");
            }
        }
        return col.finish(r, Layout.PAIRED_FOLDERS, samples);
    }

    /** Image files under {@code dir} by {@link #stemKey}; other files are noted as warnings. */
    private static Map<String, List<Path>> byStemKey(Path dir, Collector col) {
        Map<String, List<Path>> byKey = new TreeMap<>();
        for (Path f : listFiles(dir, true)) {
            if (!ImageFormat.isImageFile(f)) {
                col.warn(f, "not an image file (by extension or DICOM preamble), ignored");
                continue;
            }
            byKey.computeIfAbsent(stemKey(dir, f), k -> new ArrayList<>()).add(f);
        }
        return byKey;
    }

    // ---- BUSI release: <class>/<name>.png, <name>_mask.png, <name>_mask_<k>.png

    /** Reads the {@link Layout#BUSI_ORIGINAL} layout under {@code root} (or its single wrapper folder). */
    public static SegmentationDataset busiOriginal(Path root, ScanOptions options) {
        Path given = root.toAbsolutePath().normalize();
        Path r = busiRoot(given);
        if (r == null) {
            throw new DataException(given, "not a BUSI release folder: no class folder holds <name>_mask.<ext> files");
        }
        Collector col = new Collector(options);
        List<Sample> samples = new ArrayList<>();
        for (Path classDir : listDirs(r)) {
            String cls = classDir.getFileName().toString();
            Map<String, List<Path>> masksByStem = new TreeMap<>();
            Map<String, Path> images = new TreeMap<>();
            for (Path f : listFiles(classDir, false)) {
                String name = f.getFileName().toString();
                if (!ImageFormat.isImageFile(f)) {
                    col.warn(f, "not an image file (by extension or DICOM preamble), ignored");
                    continue;
                }
                Matcher m = BUSI_MASK.matcher(name);
                if (m.matches()) {
                    masksByStem
                            .computeIfAbsent(m.group(1), k -> new ArrayList<>())
                            .add(f);
                } else {
                    Path prev = images.put(stem(name), f);
                    if (prev != null) {
                        col.bad(f, "ambiguous: another image " + prev.getFileName() + " has the same name");
                    }
                }
            }
            for (Map.Entry<String, Path> e : images.entrySet()) {
                Path image = e.getValue();
                List<Path> masks = masksByStem.remove(e.getKey());
                if (masks == null) {
                    col.bad(image, "no mask: expected " + e.getKey() + "_mask.png beside it");
                    continue;
                }
                masks.sort(Comparator.comparingInt(Datasets::busiMaskIndex));
                samples.add(new Sample(relativeId(r, image), image, masks, label(options, null, cls, image), ""));
            }
            for (List<Path> orphans : masksByStem.values()) {
                for (Path m : orphans) {
                    col.warn(m, "mask without an image, ignored");
                }
            }
        }
        return col.finish(r, Layout.BUSI_ORIGINAL, samples);
    }

    private static int busiMaskIndex(Path mask) {
        Matcher m = BUSI_MASK.matcher(mask.getFileName().toString());
        return m.matches() && m.group(2) != null ? Integer.parseInt(m.group(2)) : 0;
    }

    /** The folder holding BUSI class folders: {@code p} itself or its only subfolder; null if neither. */
    private static Path busiRoot(Path p) {
        if (hasBusiClassFolder(p)) {
            return p;
        }
        List<Path> dirs = listDirs(p);
        if (dirs.size() == 1
                && listFiles(p, false).stream()
                        .noneMatch(f ->
                                ImageFormat.hasImageExtension(f.getFileName().toString()))
                && hasBusiClassFolder(dirs.get(0))) {
            return dirs.get(0);
        }
        return null;
    }

    private static boolean hasBusiClassFolder(Path p) {
        for (Path d : listDirs(p)) {
            for (Path f : listFiles(d, false)) {
                if (BUSI_MASK.matcher(f.getFileName().toString()).matches()) {
                    return true;
                }
            }
        }
        return false;
    }

    // ---- CSV manifest

    /** Reads a {@link Layout#CSV} manifest; paths in it are relative to its folder, the dataset root. */
    public static SegmentationDataset csv(Path csvFile, ScanOptions options) {
        Path file = csvFile.toAbsolutePath().normalize();
        Path r = file.getParent();
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new DataException(file, "CSV manifest does not exist", e);
        } catch (IOException e) {
            throw new DataException(file, "cannot read CSV manifest: " + e, e);
        }
        List<Csv.Row> rows;
        try {
            rows = Csv.parse(text);
        } catch (IllegalArgumentException e) {
            throw new DataException(file, "malformed CSV: " + e.getMessage(), e);
        }
        if (rows.isEmpty()) {
            throw new DataException(file, "CSV manifest is empty (expected a header row with image,mask)");
        }
        Map<String, Integer> cols = header(rows.get(0).fields());
        Integer ci = cols.get("image");
        Integer cm = cols.get("mask");
        if (ci == null || cm == null) {
            throw new DataException(
                    file,
                    "CSV header must name the columns image and mask (also optional group, " + "class), got "
                            + rows.get(0).fields());
        }
        Integer cg = cols.get("group");
        Integer cc = cols.containsKey("class") ? cols.get("class") : cols.get("label");
        Collector col = new Collector(options);
        List<Sample> samples = new ArrayList<>();
        Map<String, Integer> seen = new TreeMap<>();
        for (Csv.Row row : rows.subList(1, rows.size())) {
            List<String> f = row.fields();
            if (f.stream().allMatch(s -> s.isBlank())) {
                continue;
            }
            if (f.size() != rows.get(0).fields().size()) {
                throw new DataException(
                        file,
                        "line " + row.line() + ": expected "
                                + rows.get(0).fields().size() + " fields as in the header, got " + f.size());
            }
            String imageCell = f.get(ci).trim();
            if (imageCell.isEmpty()) {
                throw new DataException(file, "line " + row.line() + ": image is empty");
            }
            Path image = inside(file, r, imageCell, "line " + row.line());
            String id = relativeId(r, image);
            Integer prev = seen.put(id, row.line());
            if (prev != null) {
                throw new DataException(
                        file,
                        "line " + row.line() + ": image " + imageCell + " is already listed on " + "line " + prev);
            }
            List<Path> masks = new ArrayList<>();
            for (String m : f.get(cm).split(";")) {
                if (!m.isBlank()) {
                    masks.add(inside(file, r, m.trim(), "line " + row.line()));
                }
            }
            if (!Files.isRegularFile(image)) {
                col.bad(image, "image listed on line " + row.line() + " of " + file.getFileName() + " does not exist");
                continue;
            }
            if (masks.isEmpty()) {
                col.bad(
                        image,
                        "no mask: the mask field on line " + row.line() + " of " + file.getFileName() + " is empty");
                continue;
            }
            Path missing = masks.stream()
                    .filter(m -> !Files.isRegularFile(m))
                    .findFirst()
                    .orElse(null);
            if (missing != null) {
                col.bad(missing, "mask listed on line " + row.line() + " of " + file.getFileName() + " does not exist");
                continue;
            }
            String cls = cc == null ? null : f.get(cc).trim();
            Path parent = r.relativize(image).getParent();
            String folder = parent == null ? null : parent.getFileName().toString();
            String group = cg == null ? "" : f.get(cg).trim();
            samples.add(new Sample(id, image, masks, label(options, cls, folder, image), group));
        }
        return col.finish(r, Layout.CSV, samples);
    }

    private static Map<String, Integer> header(List<String> fields) {
        Map<String, Integer> cols = new LinkedHashMap<>();
        for (int i = 0; i < fields.size(); i++) {
            cols.putIfAbsent(fields.get(i).trim().toLowerCase(Locale.ROOT), i);
        }
        return cols;
    }

    private static Path findManifest(Path dir) {
        List<Path> found = manifests(dir);
        if (found.isEmpty()) {
            throw new DataException(dir, "no CSV manifest with image and mask columns in this folder");
        }
        if (found.size() > 1) {
            throw new DataException(dir, "several CSV manifests with image and mask columns, name one: " + found);
        }
        return found.get(0);
    }

    /** CSV files directly in {@code dir} whose first line names image and mask columns. */
    private static List<Path> manifests(Path dir) {
        List<Path> out = new ArrayList<>();
        for (Path f : listFiles(dir, false)) {
            if (!f.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".csv")) {
                continue;
            }
            try (Stream<String> lines = Files.lines(f, StandardCharsets.UTF_8)) {
                String first = lines.findFirst().orElse("");
                List<Csv.Row> rows = Csv.parse(first);
                if (!rows.isEmpty()) {
                    Map<String, Integer> cols = header(rows.get(0).fields());
                    if (cols.containsKey("image") && cols.containsKey("mask")) {
                        out.add(f);
                    }
                }
            } catch (IOException | java.io.UncheckedIOException | IllegalArgumentException e) {
                LOG.debug("{}: not read as a manifest: {}", f, e.toString());
            }
        }
        return out;
    }

    /** Resolves a manifest path, refusing absolute paths and paths that leave the root. */
    private static Path inside(Path reported, Path root, String cell, String where) {
        Path rel;
        try {
            rel = Path.of(cell.replace('\\', '/'));
        } catch (java.nio.file.InvalidPathException e) {
            throw new DataException(reported, where + ": invalid path '" + cell + "'", e);
        }
        Path resolved = root.resolve(rel).normalize();
        if (rel.isAbsolute() || !resolved.startsWith(root) || resolved.equals(root)) {
            throw new DataException(
                    reported,
                    where + ": path '" + cell + "' is not inside the dataset root " + root
                            + " (use paths relative to it, without ..)");
        }
        return resolved;
    }

    // ---- explicit

    /** Starts an explicit dataset under {@code root}; paths given to it are relative to the root. */
    public static Builder builder(Path root) {
        return new Builder(root);
    }

    /** Collects samples one by one; {@link #build} checks that every file exists. */
    public static final class Builder {
        private final Path root;
        private final List<Sample> samples = new ArrayList<>();

        private Builder(Path root) {
            this.root = root.toAbsolutePath().normalize();
        }

        /** Adds an image with one mask (paths relative to the root) and a class label ({@code ""} for none). */
        public Builder add(String image, String mask, String label) {
            return add(image, List.of(mask), label, "");
        }

        /** Adds an image with its masks (merged by maximum), a label and an explicit duplicate group. */
        public Builder add(String image, List<String> masks, String label, String group) {
            String where = "sample " + (samples.size() + 1) + " of the builder";
            Path img = inside(root, root, image, where);
            List<Path> ms =
                    masks.stream().map(m -> inside(root, root, m, where)).toList();
            samples.add(new Sample(relativeId(root, img), img, ms, label, group));
            return this;
        }

        public SegmentationDataset build() {
            for (Sample s : samples) {
                if (!Files.isRegularFile(s.image())) {
                    throw new DataException(s.image(), "image does not exist");
                }
                for (Path m : s.masks()) {
                    if (!Files.isRegularFile(m)) {
                        throw new DataException(m, "mask of " + s.id() + " does not exist");
                    }
                }
            }
            if (samples.isEmpty()) {
                throw new DataException(root, "empty dataset: no samples were added");
            }
            List<Sample> sorted = new ArrayList<>(samples);
            sorted.sort(Comparator.comparing(Sample::id));
            return new SegmentationDataset(root, Layout.EXPLICIT, sorted, ScanReport.empty());
        }
    }

    // ---- helpers

    private static String label(ScanOptions o, String csvClass, String folder, Path file) {
        String prefix = namePrefix(file.getFileName().toString());
        return switch (o.classSource()) {
            case NONE -> "";
            case FOLDER -> folder == null ? "" : folder;
            case NAME_PREFIX -> prefix;
            case AUTO -> csvClass != null ? csvClass : folder != null ? folder : prefix;
        };
    }

    /** Leading letters before a separator or digit ({@code "benign_001.png"} gives {@code "benign"}), or "". */
    static String namePrefix(String fileName) {
        Matcher m = NAME_PREFIX.matcher(fileName);
        return m.find() ? m.group(1) : "";
    }

    private static String relativeId(Path root, Path file) {
        return root.relativize(file).toString().replace('\\', '/');
    }

    private static String stem(String name) {
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    /** Relative path without extension, '/'-separated: the key images and masks are matched by. */
    private static String stemKey(Path dir, Path file) {
        String rel = dir.relativize(file).toString().replace('\\', '/');
        int slash = rel.lastIndexOf('/');
        return rel.substring(0, slash + 1) + stem(rel.substring(slash + 1));
    }

    private static List<Path> listFiles(Path dir, boolean recursive) {
        try (Stream<Path> s = recursive ? Files.walk(dir) : Files.list(dir)) {
            return s.filter(Files::isRegularFile)
                    .filter(f -> !hidden(dir, f))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new DataException(dir, "cannot list folder: " + e, e);
        }
    }

    private static List<Path> listDirs(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory)
                    .filter(f -> !f.getFileName().toString().startsWith("."))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new DataException(dir, "cannot list folder: " + e, e);
        }
    }

    private static boolean hidden(Path dir, Path f) {
        for (Path part : dir.relativize(f)) {
            if (part.toString().startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    /** Applies the bad-item policy and the class filter, and assembles the result. */
    private static final class Collector {
        private final ScanOptions options;
        private final List<Problem> skipped = new ArrayList<>();
        private final List<Problem> warnings = new ArrayList<>();

        Collector(ScanOptions options) {
            this.options = options;
        }

        void bad(Path file, String problem) {
            if (options.onBadItem() == BadItemPolicy.FAIL) {
                throw new DataException(file, problem);
            }
            LOG.warn("skipping {}: {}", file, problem);
            skipped.add(new Problem(file, problem));
        }

        void warn(Path file, String problem) {
            LOG.warn("{}: {}", file, problem);
            warnings.add(new Problem(file, problem));
        }

        SegmentationDataset finish(Path root, Layout layout, List<Sample> found) {
            Map<String, Integer> excluded = new TreeMap<>();
            List<Sample> kept = new ArrayList<>();
            for (Sample s : found) {
                if (options.accepts(s.label())) {
                    kept.add(s);
                } else {
                    excluded.merge(s.label(), 1, Integer::sum);
                }
            }
            if (!excluded.isEmpty()) {
                LOG.info(
                        "{}: left out by the class filter: {}{}",
                        root,
                        excluded,
                        excluded.containsKey(ScanOptions.NORMAL)
                                ? " (keep them with --include-normal, or ScanOptions.optIncludeNormal in the API)"
                                : "");
            }
            if (kept.isEmpty()) {
                throw new DataException(
                        root,
                        "empty dataset: no usable image/mask pairs in layout " + layout
                                + " (found " + found.size() + ", excluded by class " + excluded + ", skipped "
                                + skipped.size()
                                + ")");
            }
            kept.sort(Comparator.comparing(Sample::id));
            return new SegmentationDataset(root, layout, kept, new ScanReport(skipped, warnings, excluded));
        }
    }
}
