package org.arunet.data.split;

import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.arunet.data.dataset.Datasets;
import org.arunet.data.dataset.Layout;
import org.arunet.data.dataset.Sample;
import org.arunet.data.dataset.ScanReport;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.data.testing.TestImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SplitsTest {
    @TempDir
    Path root;

    /** A described dataset whose files need not exist (the split algorithm never opens them). */
    private SegmentationDataset labelled(Map<String, Integer> perLabel) {
        List<Sample> samples = new ArrayList<>();
        perLabel.forEach((label, n) -> {
            for (int i = 0; i < n; i++) {
                String id = String.format("images/%s_%03d.png", label, i);
                samples.add(new Sample(id, root.resolve(id), root.resolve("masks/" + id), label));
            }
        });
        samples.sort(java.util.Comparator.comparing(Sample::id));
        return new SegmentationDataset(root, Layout.EXPLICIT, samples, ScanReport.empty());
    }

    private static DuplicateGroups noGroups() {
        return new DuplicateGroups(List.of(), 0, 0, 0, Deduplication.none());
    }

    @Test
    void perClassCountsFollowThePaper() {
        SegmentationDataset ds = labelled(Map.of("benign", 437, "malignant", 210));
        Split s = Splits.stratified(ds, 0.7, 0.1, 0.2, 42, noGroups());
        assertEquals(new SplitCounts(306, 44, 87), s.counts().get("benign"));
        assertEquals(new SplitCounts(147, 21, 42), s.counts().get("malignant"));
        assertEquals(647, s.size());
        Set<String> all = new HashSet<>();
        all.addAll(s.train());
        all.addAll(s.val());
        all.addAll(s.test());
        assertEquals(647, all.size(), "every sample exactly once");
        assertEquals(s.train().stream().sorted().toList(), s.train(), "parts are sorted");
    }

    @Test
    void listedSamplesAndTheirDuplicatesGoToTest() {
        SegmentationDataset ds = labelled(Map.of("benign", 100, "malignant", 50));
        List<List<String>> groups = List.of(
                List.of("images/benign_003.png", "images/benign_004.png", "images/benign_005.png"),
                List.of("images/malignant_010.png", "images/malignant_011.png"));
        DuplicateGroups dg = new DuplicateGroups(groups, 0, 0, 0, Deduplication.none());
        Set<String> keep = Set.of(
                "images/benign_003.png",
                "images/benign_040.png",
                "images/malignant_011.png",
                "images/malignant_020.png");
        for (long seed = 0; seed < 10; seed++) {
            Split s = Splits.stratified(ds, 0.7, 0.1, 0.2, seed, dg, keep);
            Set<String> test = new HashSet<>(s.test());
            for (String id : List.of(
                    "images/benign_003.png",
                    "images/benign_004.png",
                    "images/benign_005.png",
                    "images/benign_040.png",
                    "images/malignant_010.png",
                    "images/malignant_011.png",
                    "images/malignant_020.png")) {
                assertTrue(
                        test.contains(id),
                        id + " is kept in test (listed or a duplicate of a listed one), seed " + seed);
            }
            // The forced samples count towards the targets: the per-class sizes are those of a plain split.
            assertEquals(new SplitCounts(70, 10, 20), s.counts().get("benign"));
            assertEquals(new SplitCounts(35, 5, 10), s.counts().get("malignant"));
            assertTrue(s.method().contains("4 listed samples"), s.method());
        }
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Splits.stratified(ds, 0.7, 0.1, 0.2, 1, dg, Set.of("images/normal_001.png")));
        assertTrue(e.getMessage().contains("images/normal_001.png"), e.getMessage());
    }

    @Test
    void deterministicForASeed() {
        SegmentationDataset ds = labelled(Map.of("a", 60, "b", 25));
        Split a = Splits.stratified(ds, 0.7, 0.1, 0.2, 7, noGroups());
        Split b = Splits.stratified(ds, 0.7, 0.1, 0.2, 7, noGroups());
        Split c = Splits.stratified(ds, 0.7, 0.1, 0.2, 8, noGroups());
        assertEquals(a, b);
        assertEquals(a.hash(), b.hash());
        assertNotEquals(a.test(), c.test());
        assertNotEquals(a.hash(), c.hash());
    }

    @Test
    void duplicateGroupsNeverStraddleParts() {
        SegmentationDataset ds = labelled(Map.of("a", 200, "b", 90));
        Random rnd = new Random(5);
        List<String> ids = new ArrayList<>(ds.samples().stream().map(Sample::id).toList());
        java.util.Collections.shuffle(ids, rnd);
        List<List<String>> groups = new ArrayList<>();
        int pos = 0;
        for (int g = 0; g < 40; g++) { // 40 groups of 2-5, some mixing labels
            int size = 2 + rnd.nextInt(4);
            groups.add(new ArrayList<>(ids.subList(pos, pos + size)));
            pos += size;
        }
        for (List<String> g : groups) {
            g.sort(null);
        }
        DuplicateGroups dg = new DuplicateGroups(groups, 0, 0, 0, Deduplication.none());
        for (long seed = 0; seed < 20; seed++) {
            Split s = Splits.stratified(ds, 0.7, 0.1, 0.2, seed, dg);
            Map<String, String> partOf = new HashMap<>();
            s.train().forEach(id -> partOf.put(id, "train"));
            s.val().forEach(id -> partOf.put(id, "val"));
            s.test().forEach(id -> partOf.put(id, "test"));
            assertEquals(290, partOf.size());
            for (List<String> g : groups) {
                assertEquals(
                        1, g.stream().map(partOf::get).distinct().count(), "group " + g + " straddles, seed " + seed);
            }
            // Targets of the whole set: 203/29/58; groups of at most 5 may overshoot a little per class.
            assertTrue(
                    Math.abs(s.test().size() - 58) <= 8, "test size " + s.test().size());
            assertTrue(Math.abs(s.val().size() - 29) <= 8, "val size " + s.val().size());
            assertEquals(40, s.duplicateGroups());
        }
    }

    @Test
    void findsExactAndNearDuplicatesInRealFiles() {
        ImageReader reader = new ImageReader();
        for (int i = 0; i < 12; i++) {
            Raster img = TestImages.texture(96, 80, 100 + i);
            TestImages.write(root.resolve("images/u" + i + ".png"), img);
        }
        Raster base = TestImages.texture(96, 80, 500);
        TestImages.write(root.resolve("images/orig.png"), base);
        TestImages.write(root.resolve("images/copy.bmp"), base); // exact copy, other format
        TestImages.write(root.resolve("images/reenc.jpg"), shifted(base, 2, 5), new int[] {IMWRITE_JPEG_QUALITY, 80});
        List<Sample> samples = new ArrayList<>();
        try (var files = Files.list(root.resolve("images"))) {
            files.sorted().forEach(f -> samples.add(new Sample("images/" + f.getFileName(), f, f, "x")));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        DuplicateGroups g = Duplicates.find(samples, Deduplication.defaults(), reader, 2);
        assertEquals(
                List.of(List.of("images/copy.bmp", "images/orig.png", "images/reenc.jpg")), g.groups(), g.toString());
        assertEquals(1, g.exactPairs());
        assertEquals(2, g.nearPairs());
        DuplicateGroups exact = Duplicates.find(samples, Deduplication.exactOnly(), reader, 1);
        assertEquals(List.of(List.of("images/copy.bmp", "images/orig.png")), exact.groups());
        assertEquals(
                List.of(),
                Duplicates.find(samples, Deduplication.none(), reader, 1).groups());
    }

    @Test
    void explicitGroupsComeFromTheManifest() throws Exception {
        for (String n : List.of("a", "b", "c", "d")) {
            TestImages.write(root.resolve(n + ".png"), TestImages.pattern(32, 32, 1, n.hashCode()));
        }
        Files.writeString(
                root.resolve("m.csv"),
                "image,mask,group\na.png,a.png,p\nb.png,b.png,\nc.png,c.png,p\n" + "d.png,d.png,q\n");
        SegmentationDataset ds = Datasets.scan(root);
        DuplicateGroups g = Duplicates.find(ds.samples(), Deduplication.none(), new ImageReader(), 1);
        assertEquals(List.of(List.of("a.png", "c.png")), g.groups());
        assertEquals(1, g.explicitLinks());
    }

    @Test
    void jsonRoundTripAndReuse() {
        SegmentationDataset ds = onDisk(30);
        Path file = root.resolve("splits/split.json");
        Split made = Splits.loadOrCreate(file, ds, 0.7, 0.1, 0.2, 3);
        assertTrue(Files.exists(file));
        assertEquals(made, Split.load(file, root));
        assertEquals(made.hash(), Split.load(file).hash());
        Split reused = Splits.loadOrCreate(file, ds, 0.7, 0.1, 0.2, 99); // another seed: the file wins
        assertEquals(made, reused);
        Split.Parts parts = reused.select(ds);
        assertEquals(made.train().size(), parts.train().size());
        assertEquals(made.test().get(0), parts.test().get(0).id());
    }

    @Test
    void loadingRefusesEscapingAbsoluteAndMissingPaths() throws Exception {
        SegmentationDataset ds = onDisk(10);
        Path file = root.resolve("split.json");
        Split s = Splits.stratified(ds, 0.7, 0.1, 0.2, 1, Deduplication.none(), new ImageReader(), 1);
        s.save(file);
        String json = Files.readString(file);
        String victim = s.test().get(0);

        Files.writeString(file, json.replace("\"" + victim + "\"", "\"../../etc/passwd\""));
        DataException esc = assertThrows(DataException.class, () -> Split.load(file, root));
        assertEquals(file, esc.file());
        assertTrue(
                esc.getMessage().contains("test entry '../../etc/passwd' leaves the dataset root"), esc.getMessage());

        Files.writeString(file, json.replace("\"" + victim + "\"", "\"/etc/passwd\""));
        assertTrue(assertThrows(DataException.class, () -> Split.load(file))
                .getMessage()
                .contains("absolute path"));

        Files.writeString(file, json.replace("\"" + victim + "\"", "\"images/./x.png\""));
        assertTrue(assertThrows(DataException.class, () -> Split.load(file))
                .getMessage()
                .contains("not a normalised"));

        Files.writeString(file, json.replace("\"" + victim + "\"", "\"images/gone.png\""));
        DataException gone = assertThrows(DataException.class, () -> Split.load(file, root));
        assertEquals(file, gone.file());
        assertTrue(
                gone.getMessage().contains("test entry 'images/gone.png' names a file that does not exist"),
                gone.getMessage());

        Files.writeString(
                file, json.replace("\"" + victim + "\"", "\"" + s.train().get(0) + "\""));
        assertTrue(assertThrows(DataException.class, () -> Split.load(file))
                .getMessage()
                .contains("is also listed in " + "train"));

        Files.writeString(file, "{\"formatVersion\": 1, \"seed\": 3}");
        assertTrue(assertThrows(DataException.class, () -> Split.load(file))
                .getMessage()
                .contains("Missing creator property 'method'"));

        Files.writeString(file, "not json");
        assertTrue(assertThrows(DataException.class, () -> Split.load(file))
                .getMessage()
                .contains("not a valid split file"));
        assertTrue(assertThrows(DataException.class, () -> Split.load(root.resolve("none.json")))
                .getMessage()
                .contains("split file does not exist"));
    }

    @Test
    void splitMustBelongToTheDataset() {
        SegmentationDataset ds = onDisk(10);
        Path file = root.resolve("split.json");
        Splits.stratified(ds, 0.7, 0.1, 0.2, 1, Deduplication.none(), new ImageReader(), 1)
                .save(file);
        SegmentationDataset smaller =
                new SegmentationDataset(root, Layout.EXPLICIT, ds.samples().subList(0, 5), ScanReport.empty());
        DataException e = assertThrows(DataException.class, () -> Splits.loadOrCreate(file, smaller, 0.7, 0.1, 0.2, 1));
        assertEquals(file, e.file());
        assertTrue(e.getMessage().contains("is not a sample of the dataset"), e.getMessage());
    }

    @Test
    void badFractionsAreRefused() {
        SegmentationDataset ds = labelled(Map.of("a", 5));
        assertThrows(IllegalArgumentException.class, () -> Splits.stratified(ds, 0, 0.5, 0.5, 1, noGroups()));
        assertThrows(IllegalArgumentException.class, () -> Splits.stratified(ds, 0.7, -0.1, 0.2, 1, noGroups()));
    }

    private SegmentationDataset onDisk(int n) {
        for (int i = 0; i < n; i++) {
            TestImages.write(
                    root.resolve(String.format("images/%s_%02d.png", i % 2 == 0 ? "a" : "b", i)),
                    TestImages.texture(24, 24, i));
            TestImages.write(
                    root.resolve(String.format("masks/%s_%02d.png", i % 2 == 0 ? "a" : "b", i)),
                    TestImages.discs(24, 24, 1, i));
        }
        return Datasets.scan(root);
    }

    private static Raster shifted(Raster r, int dx, int brighter) {
        Raster out = Raster.zeros8(r.width(), r.height(), 1);
        for (int y = 0; y < r.height(); y++) {
            for (int x = 0; x < r.width(); x++) {
                int sx = Math.min(r.width() - 1, Math.max(0, x - dx));
                out.setSample((long) y * r.width() + x, Math.min(255, r.get(sx, y, 0) + brighter));
            }
        }
        return out;
    }
}
