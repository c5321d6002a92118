package org.arunet.data.dataset;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.data.testing.TestImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetsTest {
    @TempDir
    Path root;

    private static final Raster IMG = TestImages.pattern(20, 16, 1, 1);
    private static final Raster MASK = TestImages.discs(20, 16, 2, 1);

    private void pair(String image, String mask) {
        TestImages.write(root.resolve(image), IMG);
        TestImages.write(root.resolve(mask), MASK);
    }

    @Test
    void pairedFoldersWithNamePrefixClasses() {
        pair("images/benign_001.png", "masks/benign_001.png");
        pair("images/benign_002.png", "masks/benign_002.png");
        pair("images/malignant_001.jpg", "masks/malignant_001.png");
        pair("images/normal_001.png", "masks/normal_001.png");
        SegmentationDataset ds = Datasets.scan(root);
        assertEquals(Layout.PAIRED_FOLDERS, ds.layout());
        assertEquals(Map.of("benign", 2, "malignant", 1), ds.countByLabel());
        assertEquals(Map.of("normal", 1), ds.report().excludedByClass());
        assertEquals(
                List.of("images/benign_001.png", "images/benign_002.png", "images/malignant_001.jpg"),
                ds.samples().stream().map(Sample::id).toList());
        assertEquals(
                root.resolve("masks/malignant_001.png"),
                ds.byId("images/malignant_001.jpg").masks().get(0));
        SegmentationDataset all =
                Datasets.scan(root, ScanOptions.builder().includeNormal(true).build());
        assertEquals(4, all.size());
        SegmentationDataset onlyBenign =
                Datasets.scan(root, ScanOptions.builder().classes("benign").build());
        assertEquals(2, onlyBenign.size());
        SegmentationDataset noClass = Datasets.scan(
                root, ScanOptions.builder().classSource(ClassSource.NONE).build());
        assertEquals(Map.of("", 4), noClass.countByLabel(), "no labels: nothing is filtered");
    }

    @Test
    void pairedFoldersWithClassSubfolders() {
        pair("images/cyst/a.bmp", "masks/cyst/a.tif");
        pair("images/cyst/b.png", "masks/cyst/b.png");
        pair("images/tumour/a.png", "masks/tumour/a.png");
        TestImages.write(root.resolve("masks/tumour/orphan.png"), MASK);
        SegmentationDataset ds = Datasets.scan(root);
        assertEquals(Map.of("cyst", 2, "tumour", 1), ds.countByLabel());
        assertEquals(
                root.resolve("masks/cyst/a.tif"),
                ds.byId("images/cyst/a.bmp").masks().get(0));
        assertEquals(1, ds.report().warnings().size());
        assertTrue(ds.report().warnings().get(0).toString().contains("orphan.png: mask without an image"));
    }

    @Test
    void missingMaskFailsOrIsSkipped() {
        pair("images/benign_001.png", "masks/benign_001.png");
        TestImages.write(root.resolve("images/benign_002.png"), IMG);
        DataException e = assertThrows(DataException.class, () -> Datasets.scan(root));
        assertEquals(root.resolve("images/benign_002.png"), e.file());
        assertTrue(
                e.getMessage().contains("no mask: expected a file masks/benign_002.<png|jpg|bmp|tif>"), e.getMessage());
        SegmentationDataset ds = Datasets.scan(
                root, ScanOptions.builder().onBadItem(BadItemPolicy.SKIP).build());
        assertEquals(1, ds.size());
        assertEquals(1, ds.report().skipped().size());
        assertEquals(
                root.resolve("images/benign_002.png"),
                ds.report().skipped().get(0).file());
    }

    @Test
    void ambiguousMasksAreRefused() {
        pair("images/x_1.png", "masks/x_1.png");
        TestImages.write(root.resolve("masks/x_1.bmp"), MASK);
        DataException e = assertThrows(DataException.class, () -> Datasets.scan(root));
        assertTrue(e.getMessage().contains("ambiguous: several masks share the name x_1"), e.getMessage());
    }

    @Test
    void busiOriginalLayoutMergesExtraMasks() {
        Path busi = root.resolve("Dataset_BUSI_with_GT");
        Raster a = Raster.zeros8(20, 16, 1);
        Raster b = Raster.zeros8(20, 16, 1);
        a.setSample(5, 255);
        b.setSample(77, 255);
        TestImages.write(busi.resolve("benign/benign (1).png"), IMG);
        TestImages.write(busi.resolve("benign/benign (1)_mask.png"), a);
        TestImages.write(busi.resolve("benign/benign (1)_mask_1.png"), b);
        TestImages.write(busi.resolve("benign/benign (2).png"), IMG);
        TestImages.write(busi.resolve("benign/benign (2)_mask.png"), MASK);
        TestImages.write(busi.resolve("malignant/malignant (1).png"), IMG);
        TestImages.write(busi.resolve("malignant/malignant (1)_mask.png"), MASK);
        TestImages.write(busi.resolve("normal/normal (1).png"), IMG);
        TestImages.write(busi.resolve("normal/normal (1)_mask.png"), Raster.zeros8(20, 16, 1));
        for (Path p : List.of(root, busi)) { // the release's wrapper folder is found by itself
            SegmentationDataset ds = Datasets.scan(p);
            assertEquals(Layout.BUSI_ORIGINAL, ds.layout());
            assertEquals(busi, ds.root());
            assertEquals(Map.of("benign", 2, "malignant", 1), ds.countByLabel());
        }
        Sample s = Datasets.scan(busi).byId("benign/benign (1).png");
        assertEquals(
                List.of(busi.resolve("benign/benign (1)_mask.png"), busi.resolve("benign/benign (1)_mask_1.png")),
                s.masks());
        Raster merged = new ImageReader().readMask(s.masks(), 2);
        assertEquals(1, merged.sample(5));
        assertEquals(1, merged.sample(77));
        SegmentationDataset withNormal =
                Datasets.scan(busi, ScanOptions.builder().includeNormal(true).build());
        assertEquals(Map.of("benign", 2, "malignant", 1, "normal", 1), withNormal.countByLabel());
    }

    @Test
    void busiOriginalMissingMask() {
        TestImages.write(root.resolve("benign/benign (1).png"), IMG);
        TestImages.write(root.resolve("benign/benign (1)_mask.png"), MASK);
        TestImages.write(root.resolve("benign/benign (2).png"), IMG);
        DataException e = assertThrows(DataException.class, () -> Datasets.scan(root));
        assertEquals(root.resolve("benign/benign (2).png"), e.file());
        assertTrue(e.getMessage().contains("no mask: expected benign (2)_mask.png beside it"), e.getMessage());
    }

    @Test
    void csvManifestWithGroupsClassesAndSeveralMasks() throws Exception {
        pair("data/a.png", "data/a_m.png");
        pair("data/b.png", "data/b_m.png");
        TestImages.write(root.resolve("data/b_m2.png"), MASK);
        pair("data/c, with comma.png", "data/c_m.png");
        Files.writeString(
                root.resolve("list.csv"),
                "Image,Mask,Group,Class\n"
                        + "data/a.png,data/a_m.png,p1,cyst\r\n"
                        + "data/b.png,\"data/b_m.png; data/b_m2.png\",p1,solid\n"
                        + "\"data/c, with comma.png\",data/c_m.png,,cyst\n\n");
        for (Path p : List.of(root, root.resolve("list.csv"))) {
            SegmentationDataset ds = Datasets.scan(p);
            assertEquals(Layout.CSV, ds.layout());
            assertEquals(Map.of("cyst", 2, "solid", 1), ds.countByLabel());
            assertEquals("p1", ds.byId("data/b.png").group());
            assertEquals("", ds.byId("data/c, with comma.png").group());
            assertEquals(2, ds.byId("data/b.png").masks().size());
        }
        SegmentationDataset byFolder = Datasets.scan(
                root, ScanOptions.builder().classSource(ClassSource.FOLDER).build());
        assertEquals(Map.of("data", 3), byFolder.countByLabel());
    }

    @Test
    void csvProblemsNameTheManifestAndLine() throws Exception {
        pair("a.png", "a_m.png");
        Path csv = root.resolve("m.csv");
        Files.writeString(csv, "image,mask\n../outside.png,a_m.png\n");
        DataException e = assertThrows(DataException.class, () -> Datasets.scan(csv));
        assertEquals(csv, e.file());
        assertTrue(
                e.getMessage().contains("line 2: path '../outside.png' is not inside the dataset root"),
                e.getMessage());
        Files.writeString(csv, "image,mask\n/etc/passwd,a_m.png\n");
        assertTrue(assertThrows(DataException.class, () -> Datasets.scan(csv))
                .getMessage()
                .contains("/etc/passwd"));
        Files.writeString(csv, "image,mask\na.png,gone.png\n");
        DataException missing = assertThrows(DataException.class, () -> Datasets.scan(csv));
        assertEquals(root.resolve("gone.png"), missing.file());
        assertTrue(
                missing.getMessage().contains("mask listed on line 2 of m.csv does not exist"), missing.getMessage());
        Files.writeString(csv, "image,mask\na.png,\n");
        assertTrue(assertThrows(DataException.class, () -> Datasets.scan(csv))
                .getMessage()
                .contains("no mask: the mask field on line 2 of m.csv is empty"));
        Files.writeString(csv, "image,mask\na.png,a_m.png,extra\n");
        assertTrue(assertThrows(DataException.class, () -> Datasets.scan(csv))
                .getMessage()
                .contains("line 2: expected 2 fields as in the header, got 3"));
        Files.writeString(csv, "image,mask\na.png,a_m.png\na.png,a_m.png\n");
        assertTrue(assertThrows(DataException.class, () -> Datasets.scan(csv))
                .getMessage()
                .contains("line 3: image a.png is already listed on line 2"));
        Files.writeString(csv, "picture,label\n");
        assertTrue(assertThrows(DataException.class, () -> Datasets.scan(csv))
                .getMessage()
                .contains("must name the columns image and mask"));
    }

    @Test
    void emptyAndUnknownLayouts() throws Exception {
        Files.createDirectories(root.resolve("images"));
        Files.createDirectories(root.resolve("masks"));
        DataException e = assertThrows(DataException.class, () -> Datasets.scan(root));
        assertTrue(e.getMessage().contains("empty dataset"), e.getMessage());
        Path other = Files.createDirectories(root.resolve("other"));
        Files.writeString(other.resolve("readme.txt"), "nothing here");
        DataException u = assertThrows(DataException.class, () -> Datasets.scan(other));
        assertEquals(other, u.file());
        assertTrue(u.getMessage().contains("no known dataset layout"), u.getMessage());
        assertTrue(assertThrows(DataException.class, () -> Datasets.scan(root.resolve("nope")))
                .getMessage()
                .contains("does not exist"));
        pair("images/normal_001.png", "masks/normal_001.png");
        DataException onlyNormal = assertThrows(DataException.class, () -> Datasets.scan(root));
        assertTrue(onlyNormal.getMessage().contains("excluded by class {normal=1}"), onlyNormal.getMessage());
    }

    @Test
    void explicitBuilder() {
        pair("x/1.png", "y/1.png");
        pair("x/2.png", "y/2.png");
        SegmentationDataset ds = Datasets.builder(root)
                .add("x/2.png", "y/2.png", "b")
                .add("x/1.png", "y/1.png", "a")
                .build();
        assertEquals(Layout.EXPLICIT, ds.layout());
        assertEquals("x/1.png", ds.samples().get(0).id());
        DataException e = assertThrows(
                DataException.class,
                () -> Datasets.builder(root).add("x/3.png", "y/1.png", "").build());
        assertEquals(root.resolve("x/3.png"), e.file());
        assertThrows(DataException.class, () -> Datasets.builder(root).add("../x.png", "y/1.png", ""));
        assertThrows(DataException.class, () -> Datasets.builder(root).build());
        DataException unknown = assertThrows(DataException.class, () -> ds.byId("x/9.png"));
        assertTrue(unknown.getMessage().contains("not in the data set"));
    }

    @Test
    void namePrefix() {
        assertEquals("benign", Datasets.namePrefix("benign_001.png"));
        assertEquals("malignant", Datasets.namePrefix("malignant (12).png"));
        assertEquals("case", Datasets.namePrefix("case12.png"));
        assertEquals("", Datasets.namePrefix("0012.png"));
    }
}
