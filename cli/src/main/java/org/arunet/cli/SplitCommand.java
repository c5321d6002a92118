package org.arunet.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.io.ImageReader;
import org.arunet.data.split.Deduplication;
import org.arunet.data.split.DuplicateGroups;
import org.arunet.data.split.Duplicates;
import org.arunet.data.split.Split;
import org.arunet.data.split.Splits;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "split",
        mixinStandardHelpOptions = true,
        showDefaultValues = true,
        usageHelpAutoWidth = true,
        description = {
            "Make a stratified train/validation/test split (7:1:2 per class by default) and write it as"
                    + " JSON for train and eval to reuse.",
            "Exact and near-duplicate images (perceptual hash) are grouped first, so copies never straddle parts;"
                    + " the number of groups is reported."
        })
final class SplitCommand extends BaseCommand {
    @Mixin
    DataOptions data = new DataOptions();

    @Option(names = "--out", paramLabel = "FILE", defaultValue = "split.json", description = "Split file to write.")
    Path out;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the split.")
    long seed;

    @Option(
            names = "--test-include",
            paramLabel = "FILE",
            description = "Text file of sample ids (as the split file"
                    + " writes them, e.g. images/benign_028.png; one per line, # comments) that must be in the test part,"
                    + " with their duplicates: images that training must never see.")
    Path testInclude;

    @Option(names = "--force", description = "Overwrite an existing split file.")
    boolean force;

    @Override
    int run() throws Exception {
        if (Files.exists(out) && !force) {
            throw new Errors.UsageException(out + " already exists; add --force to overwrite");
        }
        SegmentationDataset ds = data.scan();
        double[] f = data.fractions();
        Split s;
        if (testInclude == null) {
            s = Splits.stratified(ds, f[0], f[1], f[2], seed);
        } else {
            requireExists("--test-include", testInclude);
            Set<String> ids = new TreeSet<>();
            for (String line : Files.readAllLines(testInclude)) {
                String t = line.strip();
                if (!t.isEmpty() && !t.startsWith("#")) {
                    ids.add(t);
                }
            }
            DuplicateGroups groups = Duplicates.find(
                    ds.samples(),
                    Deduplication.defaults(),
                    new ImageReader(),
                    Runtime.getRuntime().availableProcessors());
            try {
                s = Splits.stratified(ds, f[0], f[1], f[2], seed, groups, ids);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--test-include " + testInclude + ": " + e.getMessage(), e);
            }
        }
        s.save(out);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("file", out.toString());
        r.put("images", ds.size());
        r.put("by_class", ds.countByLabel());
        r.put("excluded_by_class", ds.report().excludedByClass());
        r.put("train", s.train().size());
        r.put("val", s.val().size());
        r.put("test", s.test().size());
        r.put("counts", s.counts());
        r.put("duplicate_groups", s.duplicateGroups());
        r.put("images_in_duplicate_groups", s.samplesInDuplicateGroups());
        r.put("hash", s.hash());
        if (json) {
            printJson(r);
        } else {
            System.out.printf(
                    "%s: %d images %s; train %d, val %d, test %d; %d duplicate groups (%d images) kept"
                            + " within one part%n",
                    out,
                    ds.size(),
                    ds.countByLabel(),
                    s.train().size(),
                    s.val().size(),
                    s.test().size(),
                    s.duplicateGroups(),
                    s.samplesInDuplicateGroups());
            if (!ds.report().excludedByClass().isEmpty()) {
                System.out.println("excluded by class filter: " + ds.report().excludedByClass()
                        + " (--include-normal keeps BUSI's normal images)");
            }
        }
        return 0;
    }
}
