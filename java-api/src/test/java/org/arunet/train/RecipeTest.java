package org.arunet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.arunet.data.augment.Augmentation;
import org.arunet.nn.Init;
import org.junit.jupiter.api.Test;

/**
 * The two recipes are what docs/TRAINING-PARITY.md measured and the help text states: a change here
 * changes what every user's training does, so it must be deliberate (and re-measured).
 */
class RecipeTest {
    @Test
    void standardIsTheMeasuredDefault() {
        TrainerConfig c = Recipe.STANDARD.trainerConfig();
        assertEquals(1e-3f, c.learningRate());
        assertEquals(0f, c.minLearningRate());
        assertEquals(0, c.warmupEpochs());
        assertEquals(8, c.batchSize());
        assertEquals(1e-3f, c.learningRateAt(0), "no warm-up: the first epoch runs at the peak rate");
        assertEquals(Init.Scheme.PYTORCH, Recipe.STANDARD.init());
        Augmentation a = Recipe.STANDARD.augmentation();
        assertEquals(Augmentation.standard(), a);
        assertEquals(0.9, a.meanCropScale(), 1e-12, "crop side uniform in [0.8, 1]");
    }

    @Test
    void paperIsThePaperExactly() {
        assertEquals(TrainerConfig.paper(), Recipe.PAPER.trainerConfig());
        assertEquals(1e-4f, Recipe.PAPER.trainerConfig().learningRate());
        assertEquals(2, Recipe.PAPER.trainerConfig().batchSize());
        assertEquals(3, Recipe.PAPER.trainerConfig().warmupEpochs());
        assertEquals(Init.Scheme.AUTHORS, Recipe.PAPER.init());
        assertEquals(0.8, Recipe.PAPER.augmentation().meanCropScale(), 1e-12, "an 80 % crop on every image");
        assertEquals(1.0, Recipe.PAPER.augmentation().cropProbability());
    }
}
