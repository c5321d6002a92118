package org.arunet.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.data.augment.Augmentation;
import org.arunet.data.dataset.Datasets;
import org.arunet.data.dataset.Sample;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.loader.LoaderConfig;
import org.arunet.data.loader.SegmentationBatchSource;
import org.arunet.data.split.Split;
import org.arunet.data.split.Splits;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Proof on real data: a reduced ARU-Net (width 16, 128 x 128) trained on part of BUSI (benign and
 * malignant, leak-free split) for a small fixed budget on the CPU clearly improves its validation
 * Dice over the first epoch. Skipped when {@code ../shared/datasets/busi} is absent.
 */
@Tag("busi")
class BusiTrainingTest {
    static final Path BUSI = Path.of("..", "..", "shared", "datasets", "busi");

    @Test
    void validationDiceRisesWellAboveTheFirstEpoch() {
        Assumptions.assumeTrue(Files.isDirectory(BUSI.resolve("images")), "BUSI not at " + BUSI.toAbsolutePath());
        SegmentationDataset ds = Datasets.scan(BUSI);
        Split split = Splits.stratified(ds, 0.7, 0.1, 0.2, 42);
        Split.Parts parts = split.select(ds);
        List<Sample> train = parts.train().subList(0, 160);
        List<Sample> val = parts.val().subList(0, 40);
        LoaderConfig.Builder lc = LoaderConfig.builder().imageSize(128).seed(7).threads(2);
        try (SegmentationBatchSource tr = SegmentationBatchSource.open(
                        train, lc.augmentation(Augmentation.paper()).build());
                SegmentationBatchSource va = SegmentationBatchSource.open(
                        val,
                        LoaderConfig.builder().imageSize(128).seed(7).threads(2).build());
                Backend be = Backends.cpu(2);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(16), Init.Scheme.AUTHORS, 1)) {
            TrainingResult r = Trainer.on(net)
                    .config(TrainerConfig.paper()
                            .withEpochs(6)
                            .withBatchSize(4)
                            .withLearningRate(1e-3f)
                            .withWarmupEpochs(1)
                            .withPatience(0))
                    .data(tr, va)
                    .fit();
            double first = r.history().get(0).valDice();
            double last = r.history().get(r.history().size() - 1).valDice();
            System.out.printf(
                    "BUSI reduced run: validation Dice per epoch %s%n",
                    r.history().stream()
                            .map(e -> String.format("%.3f", e.valDice()))
                            .toList());
            assertTrue(last > first + 0.15 && last > 0.35, "validation Dice " + first + " -> " + last);
        }
    }
}
