package org.arunet.data.busi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.arunet.data.Batch;
import org.arunet.data.dataset.Datasets;
import org.arunet.data.dataset.Layout;
import org.arunet.data.dataset.Sample;
import org.arunet.data.dataset.ScanOptions;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.data.loader.LoaderConfig;
import org.arunet.data.loader.SegmentationBatchSource;
import org.arunet.data.split.Deduplication;
import org.arunet.data.split.DuplicateGroups;
import org.arunet.data.split.Duplicates;
import org.arunet.data.split.Split;
import org.arunet.data.split.SplitCounts;
import org.arunet.data.split.Splits;
import org.arunet.data.testing.BusiData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** On the real BUSI copy in shared/ (skipped when it is absent). */
class BusiTest {
    private static Path busi;

    @BeforeAll
    static void find() {
        busi = BusiData.root().orElse(null);
    }

    private static void need() {
        assumeTrue(busi != null, "shared BUSI copy not found (set -Darunet.busi=...)");
    }

    @Test
    void scanCountsMatchTheRelease() {
        need();
        SegmentationDataset paper = Datasets.scan(busi);
        assertEquals(Layout.PAIRED_FOLDERS, paper.layout());
        assertEquals(Map.of("benign", 437, "malignant", 210), paper.countByLabel());
        assertEquals(Map.of("normal", 133), paper.report().excludedByClass());
        SegmentationDataset all =
                Datasets.scan(busi, ScanOptions.builder().includeNormal(true).build());
        assertEquals(Map.of("benign", 437, "malignant", 210, "normal", 133), all.countByLabel());
        assertEquals(780, all.size());
        assertEquals(0, all.report().warnings().size(), all.report().warnings().toString());
    }

    @Test
    void everyMaskDecodesToTheIndexedForegroundFraction() throws Exception {
        need();
        Map<String, Double> expected = new HashMap<>();
        List<String> lines = Files.readAllLines(busi.resolve("index.csv"));
        for (String line : lines.subList(1, lines.size())) {
            // file,class,"orig_image","orig_masks",width,height,mask_fg_fraction
            String[] f = line.split(",");
            expected.put("images/" + f[0], Double.parseDouble(f[f.length - 1]));
        }
        SegmentationDataset all =
                Datasets.scan(busi, ScanOptions.builder().includeNormal(true).build());
        ImageReader reader = new ImageReader();
        Map<String, Double> found = new ConcurrentHashMap<>();
        all.samples().parallelStream().forEach(s -> {
            Raster m = reader.readMask(s.masks(), 2);
            long fg = 0;
            for (long i = 0; i < m.samples(); i++) {
                fg += m.sample(i);
            }
            found.put(s.id(), fg / (double) m.samples());
        });
        for (Sample s : all.samples()) {
            assertEquals(expected.get(s.id()), found.get(s.id()), 6e-6, s.id());
            if (s.label().equals("normal")) {
                assertEquals(0.0, found.get(s.id()), s.id() + ": normal masks are empty");
            }
        }
    }

    @Test
    void duplicateGroupsAndLeakFreeSplit() {
        need();
        SegmentationDataset ds = Datasets.scan(busi);
        long t0 = System.nanoTime();
        DuplicateGroups groups = Duplicates.find(ds.samples(), Deduplication.defaults(), new ImageReader(), 2);
        System.out.printf("BUSI benign+malignant: %s, found in %.1f s%n", groups, (System.nanoTime() - t0) / 1e9);
        assertTrue(
                groups.groups().contains(List.of("images/benign_433.png", "images/malignant_145.png")),
                "the identical cross-label pair is grouped");
        assertEquals(1, groups.exactPairs(), "benign_433 == malignant_145 is the only pixel-identical pair");
        assertEquals(121, groups.groupCount(), groups.toString());
        assertEquals(266, groups.samplesInGroups(), groups.toString());

        Split split = Splits.stratified(ds, 0.7, 0.1, 0.2, 42, groups);
        System.out.println("BUSI split (seed 42) train/val/test per class: " + split.counts());
        Map<String, String> partOf = new HashMap<>();
        split.train().forEach(id -> partOf.put(id, "train"));
        split.val().forEach(id -> partOf.put(id, "val"));
        split.test().forEach(id -> partOf.put(id, "test"));
        assertEquals(647, partOf.size());
        for (List<String> g : groups.groups()) {
            assertEquals(1, g.stream().map(partOf::get).distinct().count(), "group " + g + " straddles parts");
        }
        SplitCounts benign = split.counts().get("benign");
        SplitCounts malignant = split.counts().get("malignant");
        assertEquals(437, benign.total());
        assertEquals(210, malignant.total());
        // Targets 306/44/87 and 147/21/42; whole groups of up to 7 can overshoot slightly.
        assertTrue(Math.abs(benign.test() - 87) <= 6 && Math.abs(benign.val() - 44) <= 6, benign.toString());
        assertTrue(Math.abs(malignant.test() - 42) <= 6 && Math.abs(malignant.val() - 21) <= 6, malignant.toString());
    }

    @Test
    void loaderReadsRealPairsIncludingColourAndMergedMasks() {
        need();
        SegmentationDataset ds = Datasets.scan(busi);
        // benign_006/013 and malignant_065 are RGB overlays; benign_004 had two masks, merged by OR.
        List<Sample> some = ds.select(List.of(
                "images/benign_004.png",
                "images/benign_006.png",
                "images/benign_013.png",
                "images/malignant_065.png",
                "images/malignant_001.png",
                "images/benign_433.png"));
        LoaderConfig cfg =
                LoaderConfig.builder().imageSize(128).threads(2).seed(1).build();
        try (SegmentationBatchSource src = SegmentationBatchSource.open(some, cfg)) {
            assertEquals(6, src.report().usable());
            var it = src.epoch(0, 3, true);
            int lesion = 0;
            while (it.hasNext()) {
                try (Batch b = it.next()) {
                    for (int v : b.masks()) {
                        lesion += v;
                    }
                    for (float v : b.images()) {
                        assertTrue(v >= -1f && v <= 1f);
                    }
                }
            }
            assertTrue(lesion > 0, "lesions present after augmentation");
        }
    }
}
