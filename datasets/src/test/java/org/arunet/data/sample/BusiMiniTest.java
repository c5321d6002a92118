package org.arunet.data.sample;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.arunet.data.Batch;
import org.arunet.data.dataset.Datasets;
import org.arunet.data.dataset.Sample;
import org.arunet.data.dataset.ScanOptions;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.data.loader.LoaderConfig;
import org.arunet.data.loader.SegmentationBatchSource;
import org.arunet.data.split.Deduplication;
import org.arunet.data.split.Duplicates;
import org.arunet.data.testing.BusiData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BusiMiniTest {
    /** The committed sample, relative to the module folder Maven runs tests in. */
    private static final Path COMMITTED = Path.of("sample", "busi-mini");

    @TempDir
    Path tmp;

    @Test
    void extractsFromTheClasspathAndScans() throws Exception {
        Path dir = BusiMini.extractTo(tmp.resolve("mini"));
        SegmentationDataset all =
                Datasets.scan(dir, ScanOptions.builder().includeNormal(true).build());
        assertEquals(Map.of("benign", 18, "malignant", 18, "normal", 4), all.countByLabel());
        assertEquals(36, Datasets.scan(dir).size(), "normal images are left out by default");
        long bytes;
        try (Stream<Path> files = Files.walk(dir)) {
            bytes = files.filter(Files::isRegularFile)
                    .mapToLong(p -> p.toFile().length())
                    .sum();
        }
        assertTrue(bytes < 5L << 20, "sample is " + bytes + " bytes");
        ImageReader reader = new ImageReader();
        for (Sample s : all.samples()) {
            Raster img = reader.readImage(s.image(), ColorMode.AUTO);
            assertEquals(1, img.channels());
            assertEquals(BusiMiniMaker.SIDE, Math.max(img.width(), img.height()), s.id());
            Raster mask = reader.readImage(s.masks().get(0), ColorMode.GREY);
            long lesion = 0;
            for (long i = 0; i < mask.samples(); i++) {
                int v = mask.sample(i);
                assertTrue(v == 0 || v == 255, s.id() + ": mask value " + v);
                lesion += v / 255;
            }
            assertEquals(s.label().equals("normal"), lesion == 0, s.id() + ": lesion pixels " + lesion);
        }
        assertEquals(
                List.of(),
                Duplicates.find(all.samples(), Deduplication.defaults(), reader, 2)
                        .groups(),
                "no two sample images are duplicates of each other");
    }

    @Test
    void fileListMatchesTheFolder() throws Exception {
        assumeTrue(Files.isDirectory(COMMITTED), "run from the datasets module folder");
        List<String> onDisk = new ArrayList<>();
        try (Stream<Path> files = Files.walk(COMMITTED)) {
            files.filter(Files::isRegularFile)
                    .forEach(p -> onDisk.add(COMMITTED.relativize(p).toString().replace('\\', '/')));
        }
        onDisk.sort(null);
        assertEquals(onDisk, BusiMini.files());
    }

    @Test
    void trainsThroughTheLoader() {
        Path dir = BusiMini.extractTo(tmp.resolve("mini"));
        LoaderConfig cfg =
                LoaderConfig.builder().imageSize(64).seed(3).threads(2).build();
        try (SegmentationBatchSource src = SegmentationBatchSource.open(Datasets.scan(dir), cfg)) {
            var it = src.epoch(0, 4, true);
            int batches = 0;
            while (it.hasNext()) {
                try (Batch b = it.next()) {
                    batches++;
                    assertEquals(64, b.height());
                }
            }
            assertEquals(9, batches);
        }
    }

    @Test
    void isReproducedByItsMaker() throws Exception {
        Path busi = BusiData.root().orElse(null);
        assumeTrue(busi != null, "shared BUSI copy not found");
        if (Boolean.getBoolean("arunet.busiMini.write")) {
            BusiMiniMaker.make(busi, COMMITTED);
        }
        Path out = tmp.resolve("remade");
        Files.createDirectories(out);
        Files.copy(COMMITTED.resolve("README.md"), out.resolve("README.md"));
        List<String> made = BusiMiniMaker.make(busi, out);
        assertEquals(BusiMini.files(), made);
        for (String f : made) {
            assertArrayEquals(Files.readAllBytes(COMMITTED.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
        }
    }
}
