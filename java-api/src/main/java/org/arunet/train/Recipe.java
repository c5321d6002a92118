package org.arunet.train;

import java.util.Locale;
import org.arunet.data.augment.Augmentation;
import org.arunet.nn.Init;

/**
 * A training recipe: the optimisation settings, the initialisation and the augmentation that go
 * together. {@link #STANDARD} is arunet's default, chosen by measurement against a PyTorch training of
 * the same network on the same data ({@code docs/TRAINING-PARITY.md}); {@link #PAPER} is the paper's
 * protocol exactly, with the authors' code for what the paper leaves out.
 *
 * <pre>{@code
 * Recipe r = Recipe.STANDARD;
 * ArUNet net = new ArUNet(backend, config, r.init(), seed);
 * LoaderConfig train = LoaderConfig.builder().imageSize(256).augmentation(r.augmentation()).build();
 * Trainer.on(net).config(r.trainerConfig().withEpochs(100))...
 * }</pre>
 */
public enum Recipe {
    /**
     * arunet's default: Adam at 1e-3 without warm-up, cosine annealing to 0, batch 8, PyTorch's default
     * initialisation, and a random crop of 80-100 % of the side ({@link Augmentation#standard()}).
     */
    STANDARD,
    /**
     * The paper: Adam at 1e-4, batch 2, an 80 % crop on every image ({@link Augmentation#paper()}); the
     * authors' code: a 3-epoch quadratic warm-up from 1e-5, cosine annealing to 1e-6 with the last 5 %
     * of epochs there, convolution weights N(0, 0.02), BatchNorm gamma N(1, 0.02).
     */
    PAPER;

    /** The optimisation settings (epochs 150 and patience 15 in both). */
    public TrainerConfig trainerConfig() {
        TrainerConfig paper = TrainerConfig.paper();
        return this == PAPER
                ? paper
                : paper.withBatchSize(8)
                        .withLearningRate(1e-3f)
                        .withMinLearningRate(0f)
                        .withWarmupEpochs(0);
    }

    /** The parameter initialisation. */
    public Init.Scheme init() {
        return this == PAPER ? Init.Scheme.AUTHORS : Init.Scheme.PYTORCH;
    }

    /** The training augmentation. */
    public Augmentation augmentation() {
        return this == PAPER ? Augmentation.paper() : Augmentation.standard();
    }

    /** {@code standard} or {@code paper}. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
