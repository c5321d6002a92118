package org.arunet.cli;

import java.nio.file.Path;
import java.util.List;
import org.arunet.data.dataset.Datasets;
import org.arunet.data.dataset.ScanOptions;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.split.Split;
import org.arunet.data.split.Splits;
import picocli.CommandLine.Option;

/** Where the images are and how they are split ({@code train}, {@code eval}, {@code split}, {@code demo}). */
final class DataOptions {
    @Option(
            names = "--data",
            paramLabel = "DIR|CSV",
            description = "Dataset: a folder with images/ and masks/"
                    + " (matching names), the original BUSI release (benign/, malignant/, normal/ with _mask files), or a CSV"
                    + " manifest image,mask[,group,class].")
    Path data;

    @Option(
            names = "--split",
            paramLabel = "FILE",
            description = "Split file (JSON) to use; created there if"
                    + " missing. Default: split.json in the output folder.")
    Path split;

    @Option(
            names = "--ratios",
            split = ",",
            defaultValue = "0.7,0.1,0.2",
            description = "Train, validation and" + " test fractions per class for a new split.")
    List<Double> ratios = List.of(0.7, 0.1, 0.2);

    @Option(
            names = "--include-normal",
            description = "Keep BUSI's 'normal' images (empty masks); the paper leaves" + " them out.")
    boolean includeNormal;

    @Option(
            names = "--classes",
            defaultValue = "2",
            description = "Classes including background; 2 = binary masks"
                    + " (any value > 0 is lesion), more = class-index masks.")
    int classes = 2;

    SegmentationDataset scan() {
        BaseCommand.requireExists("--data", data);
        return Datasets.scan(
                data, ScanOptions.builder().includeNormal(includeNormal).build());
    }

    double[] fractions() {
        if (ratios.size() != 3) {
            throw new Errors.UsageException("--ratios needs three values (train,val,test), got " + ratios);
        }
        return new double[] {ratios.get(0), ratios.get(1), ratios.get(2)};
    }

    /** Loads the split file or makes and saves a new one. */
    Split split(SegmentationDataset ds, Path defaultFile, long seed) {
        double[] f = fractions();
        return Splits.loadOrCreate(split != null ? split : defaultFile, ds, f[0], f[1], f[2], seed);
    }
}
