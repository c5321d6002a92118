package org.arunet.data.sample;

import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_PNG_COMPRESSION;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import org.arunet.data.dataset.Datasets;
import org.arunet.data.dataset.Sample;
import org.arunet.data.dataset.ScanOptions;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;
import org.arunet.data.split.Deduplication;
import org.arunet.data.split.DuplicateGroups;
import org.arunet.data.split.Duplicates;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.opencv_core.Mat;

/**
 * Makes the bundled BUSI-mini sample ({@code datasets/sample/busi-mini}) from the shared BUSI copy,
 * reproducibly: {@code java ... org.arunet.data.sample.BusiMiniMaker <busi-root> <out-dir>}.
 *
 * <p>Recipe: scan BUSI with normal images; find duplicate groups over all 780 images with
 * {@link Deduplication#defaults()}; keep only images with no duplicate at all and stored in grey (the
 * 16 colour files carry overlays); shuffle each class's candidates with {@code new Random(20250101)}
 * after sorting by name; take {@value #BENIGN} benign, {@value #MALIGNANT} malignant and
 * {@value #NORMAL} normal. Each image is shrunk so its longer side is {@value #SIDE} pixels (area
 * averaging), its mask the same way with nearest neighbour, written as 8-bit grey PNG (masks 0/255)
 * at compression 9, under the original BUSI names. {@code index.csv} records each file's source and
 * sizes, {@code files.txt} lists every file of the sample (used to extract it from the jar).
 */
public final class BusiMiniMaker {
    /** Longer side of the sample images. */
    public static final int SIDE = 256;

    static final int BENIGN = 18;
    static final int MALIGNANT = 18;
    static final int NORMAL = 4;
    private static final long SEED = 20250101L;

    private BusiMiniMaker() {}

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: BusiMiniMaker <busi-root with images/ and masks/> <out-dir>");
            System.exit(2);
        }
        List<String> made = make(Path.of(args[0]), Path.of(args[1]));
        System.out.println("wrote " + made.size() + " files to " + args[1]);
    }

    /** Writes the sample into {@code out} (its images/ and masks/ are replaced); returns the files written. */
    public static List<String> make(Path busiRoot, Path out) {
        SegmentationDataset all = Datasets.scan(
                busiRoot, ScanOptions.builder().includeNormal(true).build());
        ImageReader reader = new ImageReader();
        DuplicateGroups groups = Duplicates.find(
                all.samples(),
                Deduplication.defaults(),
                reader,
                Runtime.getRuntime().availableProcessors());
        Set<String> duplicated = new HashSet<>();
        groups.groups().forEach(duplicated::addAll);
        List<Sample> chosen = new ArrayList<>();
        for (String cls : List.of("benign", "malignant", "normal")) {
            int want = cls.equals("benign") ? BENIGN : cls.equals("malignant") ? MALIGNANT : NORMAL;
            List<Sample> candidates = new ArrayList<>();
            for (Sample s : all.samples()) {
                if (s.label().equals(cls)
                        && !duplicated.contains(s.id())
                        && reader.header(s.image()).channels() == 1) {
                    candidates.add(s);
                }
            }
            Collections.shuffle(candidates, new Random(SEED + cls.hashCode()));
            if (candidates.size() < want) {
                throw new IllegalStateException("only " + candidates.size() + " " + cls + " candidates");
            }
            List<Sample> take = new ArrayList<>(candidates.subList(0, want));
            take.sort((a, b) -> a.id().compareTo(b.id()));
            chosen.addAll(take);
        }
        try {
            for (String sub : List.of("images", "masks")) {
                Path d = out.resolve(sub);
                if (Files.isDirectory(d)) {
                    try (var old = Files.list(d)) {
                        for (Path f : old.toList()) {
                            Files.delete(f);
                        }
                    }
                }
                Files.createDirectories(d);
            }
            StringBuilder index = new StringBuilder("file,class,source,source_width,source_height,width,height\n");
            List<String> files = new ArrayList<>();
            for (Sample s : chosen) {
                Raster img = reader.readImage(s.image(), ColorMode.GREY);
                Raster mask = reader.readMask(s.masks(), 2);
                double k = (double) SIDE / Math.max(img.width(), img.height());
                int w = Math.max(1, (int) Math.round(img.width() * k));
                int h = Math.max(1, (int) Math.round(img.height() * k));
                Raster small = OpenCv.resize(img, w, h, OpenCv.Interpolation.SMOOTH);
                Raster smallMask = OpenCv.resize(mask, w, h, OpenCv.Interpolation.NEAREST);
                Raster mask255 = Raster.zeros8(w, h, 1);
                for (long i = 0; i < smallMask.samples(); i++) {
                    mask255.setSample(i, smallMask.sample(i) > 0 ? 255 : 0);
                }
                String name = s.image().getFileName().toString();
                writePng(out.resolve("images").resolve(name), small);
                writePng(out.resolve("masks").resolve(name), mask255);
                files.add("images/" + name);
                files.add("masks/" + name);
                index.append(String.format(
                        Locale.ROOT,
                        "%s,%s,%s,%d,%d,%d,%d%n",
                        name,
                        s.label(),
                        busiRoot.toAbsolutePath()
                                .normalize()
                                .relativize(s.image().toAbsolutePath().normalize())
                                .toString()
                                .replace('\\', '/'),
                        img.width(),
                        img.height(),
                        w,
                        h));
            }
            Files.writeString(out.resolve("index.csv"), index.toString(), StandardCharsets.UTF_8);
            files.add("index.csv");
            files.add("README.md");
            files.add("files.txt");
            Collections.sort(files);
            Files.writeString(out.resolve("files.txt"), String.join("\n", files) + "\n", StandardCharsets.UTF_8);
            return files;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the sample to " + out, e);
        }
    }

    private static void writePng(Path file, Raster r) {
        try (PointerScope scope = new PointerScope()) {
            Mat m = OpenCv.toMat(r);
            if (!opencv_imgcodecs.imwrite(file.toString(), m, new int[] {IMWRITE_PNG_COMPRESSION, 9})) {
                throw new UncheckedIOException(new IOException("OpenCV could not write " + file));
            }
        }
    }
}
