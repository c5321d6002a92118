package org.arunet.data.loader;

import org.arunet.data.augment.Augmentation;
import org.arunet.data.dataset.BadItemPolicy;
import org.arunet.data.io.ImageLimits;

/**
 * Settings of a {@link SegmentationBatchSource}. Build with {@link #builder()}:
 * {@code LoaderConfig.builder().imageSize(512).seed(42).build()}.
 *
 * @param imageSize side S of the square batches; images are resized to S x S (area averaging when
 *     shrinking, bilinear when enlarging; masks nearest)
 * @param channels 3 (grey replicated to RGB, or true RGB) or 1 (grey; colour converted)
 * @param classes mask classes: 2 = background/lesion (any mask value above 0 is lesion), more =
 *     class-index masks
 * @param augmentation applied to training epochs ({@code train = true}); default {@link Augmentation#standard()}
 * @param normalization pixel normalisation; default mean 0.5 std 0.5 ([-1, 1])
 * @param seed seed of shuffling and augmentation
 * @param threads background loader threads
 * @param prefetch batches loaded ahead of the consumer (bounded queue length)
 * @param cacheBytes memory for decoded S x S images and masks kept between epochs; 0 disables
 * @param onBadItem skip or stop on an item that cannot be decoded or is inconsistent
 * @param limits file and header limits for decoding
 */
public record LoaderConfig(
        int imageSize,
        int channels,
        int classes,
        Augmentation augmentation,
        Normalization normalization,
        long seed,
        int threads,
        int prefetch,
        long cacheBytes,
        BadItemPolicy onBadItem,
        ImageLimits limits) {
    public LoaderConfig {
        if (imageSize <= 0) {
            throw new IllegalArgumentException("imageSize must be set and positive, got " + imageSize);
        }
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
        }
        if (classes < 2 || classes > 256) {
            throw new IllegalArgumentException("classes must be in [2, 256], got " + classes);
        }
        if (augmentation == null || normalization == null || onBadItem == null || limits == null) {
            throw new IllegalArgumentException("augmentation, normalization, onBadItem and limits must not be null");
        }
        if (normalization.definedChannels() > channels) {
            throw new IllegalArgumentException(normalization + " has per-channel values for "
                    + normalization.definedChannels() + " channels, the loader makes " + channels);
        }
        if (threads < 1 || prefetch < 1) {
            throw new IllegalArgumentException(
                    "threads and prefetch must be at least 1, got " + threads + ", " + prefetch);
        }
        if (cacheBytes < 0) {
            throw new IllegalArgumentException("cacheBytes must not be negative, got " + cacheBytes);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder of {@link LoaderConfig}: {@code imageSize} is required, everything else has a default. */
    public static final class Builder {
        private int imageSize;
        private int channels = 3;
        private int classes = 2;
        private Augmentation augmentation = Augmentation.standard();
        private Normalization normalization = Normalization.symmetric();
        private long seed;
        private int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
        private int prefetch = -1;
        private long cacheBytes = Runtime.getRuntime().maxMemory() / 4;
        private BadItemPolicy onBadItem = BadItemPolicy.FAIL;
        private ImageLimits limits = ImageLimits.DEFAULT;

        private Builder() {}

        /** Side S of the square batches (ARU-Net: a multiple of 16; the paper uses 512). */
        public Builder imageSize(int imageSize) {
            this.imageSize = imageSize;
            return this;
        }

        /** 3 (default) or 1. */
        public Builder channels(int channels) {
            this.channels = channels;
            return this;
        }

        /** 2 (default, binary) or the number of classes of class-index masks. */
        public Builder classes(int classes) {
            this.classes = classes;
            return this;
        }

        /** Default {@link Augmentation#standard()}; applies only to epochs requested with {@code train = true}. */
        public Builder augmentation(Augmentation augmentation) {
            this.augmentation = augmentation;
            return this;
        }

        /** Default {@link Normalization#symmetric()}. */
        public Builder normalization(Normalization normalization) {
            this.normalization = normalization;
            return this;
        }

        /** Default 0. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Default half the available processors, at least 1. */
        public Builder threads(int threads) {
            this.threads = threads;
            return this;
        }

        /** Default twice the threads, at least 2. */
        public Builder prefetch(int prefetch) {
            this.prefetch = prefetch;
            return this;
        }

        /** Default a quarter of the maximum heap; 0 decodes every item every epoch. */
        public Builder cacheBytes(long cacheBytes) {
            this.cacheBytes = cacheBytes;
            return this;
        }

        /** Default {@link BadItemPolicy#FAIL}. */
        public Builder onBadItem(BadItemPolicy onBadItem) {
            this.onBadItem = onBadItem;
            return this;
        }

        /** Default {@link ImageLimits#DEFAULT}. */
        public Builder limits(ImageLimits limits) {
            this.limits = limits;
            return this;
        }

        public LoaderConfig build() {
            int pf = prefetch > 0 ? prefetch : Math.max(2, 2 * threads);
            return new LoaderConfig(
                    imageSize,
                    channels,
                    classes,
                    augmentation,
                    normalization,
                    seed,
                    threads,
                    pf,
                    cacheBytes,
                    onBadItem,
                    limits);
        }
    }
}
