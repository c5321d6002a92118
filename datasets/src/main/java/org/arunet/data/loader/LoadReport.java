package org.arunet.data.loader;

import java.util.List;
import org.arunet.data.dataset.Problem;

/**
 * What opening a {@link SegmentationBatchSource} did: every item was decoded once and checked.
 *
 * @param requested samples given
 * @param usable samples the source delivers
 * @param skipped items left out under {@link org.arunet.data.dataset.BadItemPolicy#SKIP}, with why
 * @param cachedItems items whose S x S image and mask are kept in memory
 * @param cachedBytes memory they take
 * @param prepareMillis time the decoding pass took
 */
public record LoadReport(
        int requested, int usable, List<Problem> skipped, int cachedItems, long cachedBytes, long prepareMillis) {
    public LoadReport {
        skipped = List.copyOf(skipped);
    }

    @Override
    public String toString() {
        return usable + " of " + requested + " samples usable, " + skipped.size() + " skipped, " + cachedItems
                + " cached (" + (cachedBytes >> 20) + " MiB), decoded in " + prepareMillis + " ms";
    }
}
