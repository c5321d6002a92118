package org.arunet.data.split;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.arunet.data.dataset.Sample;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes leak-free stratified splits.
 *
 * <pre>{@code
 * Split split = Splits.loadOrCreate(Path.of("busi-split.json"), dataset, 0.7, 0.1, 0.2, 42);
 * Split.Parts parts = split.select(dataset);      // parts.train(), parts.val(), parts.test()
 * }</pre>
 *
 * <p>Algorithm: duplicates are grouped first ({@link Duplicates}, by default exact pixels plus
 * perceptual hashes within {@link Deduplication#DEFAULT_MAX_DISTANCE} bits, plus explicit CSV
 * groups). Each group takes the majority label of its members (ties: the alphabetically first). Per
 * label with {@code n} samples the targets are {@code round(n * val)} validation and
 * {@code round(n * test)} test samples, the rest training (BUSI benign 437: 306/44/87, malignant
 * 210: 147/21/42). The label's groups are shuffled with a {@link Random} seeded from the seed and the
 * label, stably sorted largest first, and each goes whole to the part with the largest share of its
 * target still unfilled (ties: train, val, test), so groups spread over the parts in proportion. Singletons fill the targets exactly; groups can overshoot by at most
 * their size minus one. Each part's ids are sorted. The result depends only on the dataset's
 * samples, their pixels and the seed.
 */
public final class Splits {
    private static final Logger LOG = LoggerFactory.getLogger(Splits.class);

    private Splits() {}

    /** Stratified split with default duplicate grouping, decoding on all available processors. */
    public static Split stratified(SegmentationDataset dataset, double train, double val, double test, long seed) {
        return stratified(
                dataset,
                train,
                val,
                test,
                seed,
                Deduplication.defaults(),
                new ImageReader(),
                Runtime.getRuntime().availableProcessors());
    }

    /** Stratified split, finding duplicates with {@code rule} on {@code threads} threads. */
    public static Split stratified(
            SegmentationDataset dataset,
            double train,
            double val,
            double test,
            long seed,
            Deduplication rule,
            ImageReader reader,
            int threads) {
        DuplicateGroups groups = Duplicates.find(dataset.samples(), rule, reader, threads);
        LOG.info("{}: {}", dataset.root(), groups);
        return stratified(dataset, train, val, test, seed, groups);
    }

    /** Stratified split with precomputed duplicate groups. */
    public static Split stratified(
            SegmentationDataset dataset, double train, double val, double test, long seed, DuplicateGroups groups) {
        return stratified(dataset, train, val, test, seed, groups, Set.of());
    }

    /**
     * Stratified split with precomputed duplicate groups, in which the samples {@code forceTest} (and
     * their duplicate groups) go to the test part: they are placed first and count towards their
     * class's test target; the rest is split as usual. For images that must stay unseen by training
     * (e.g. the samples a demo shows a shipped model on).
     *
     * @throws IllegalArgumentException when an id of {@code forceTest} is not a sample of the dataset
     */
    public static Split stratified(
            SegmentationDataset dataset,
            double train,
            double val,
            double test,
            long seed,
            DuplicateGroups groups,
            Set<String> forceTest) {
        checkFractions(train, val, test);
        double sum = train + val + test;
        double fv = val / sum;
        double ft = test / sum;
        List<Sample> samples = dataset.samples();
        Map<String, Sample> byId = new HashMap<>();
        for (Sample s : samples) {
            byId.put(s.id(), s);
        }
        // Components: each duplicate group, and every other sample alone.
        List<List<Sample>> components = new ArrayList<>();
        Set<String> grouped = new HashSet<>();
        for (List<String> g : groups.groups()) {
            List<Sample> members = new ArrayList<>();
            for (String id : g) {
                Sample s = byId.get(id);
                if (s == null) {
                    throw new IllegalArgumentException("duplicate group names " + id + ", not in the dataset");
                }
                if (!grouped.add(id)) {
                    throw new IllegalArgumentException("sample " + id + " is in two duplicate groups");
                }
                members.add(s);
            }
            components.add(members);
        }
        for (Sample s : samples) {
            if (!grouped.contains(s.id())) {
                components.add(List.of(s));
            }
        }
        for (String id : new TreeSet<>(forceTest)) {
            if (!byId.containsKey(id)) {
                throw new IllegalArgumentException(
                        "sample '" + id + "' to keep in the test part is not a sample of " + dataset.root()
                                + " (its ids look like '" + samples.get(0).id() + "')");
            }
        }
        Map<String, List<List<Sample>>> byLabel = new TreeMap<>();
        for (List<Sample> c : components) {
            byLabel.computeIfAbsent(majorityLabel(c), k -> new ArrayList<>()).add(c);
        }
        List<List<String>> parts = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        for (Map.Entry<String, List<List<Sample>>> e : byLabel.entrySet()) {
            List<List<Sample>> cs = new ArrayList<>(e.getValue());
            cs.sort(Comparator.comparing(c -> c.get(0).id())); // canonical order before the seeded shuffle
            int n = cs.stream().mapToInt(List::size).sum();
            int nVal = (int) Math.round(n * fv);
            int nTest = (int) Math.round(n * ft);
            int[] target = {n - nVal - nTest, nVal, nTest};
            int[] count = new int[3];
            Collections.shuffle(
                    cs, new Random(seed * 0x9E3779B97F4A7C15L + e.getKey().hashCode()));
            cs.sort(Comparator.comparingInt((List<Sample> c) -> -c.size())); // stable: keeps shuffled order
            List<List<Sample>> forced = cs.stream()
                    .filter(c -> c.stream().anyMatch(x -> forceTest.contains(x.id())))
                    .toList();
            cs.removeAll(forced);
            for (List<Sample> c : forced) {
                count[2] += c.size();
                for (Sample x : c) {
                    parts.get(2).add(x.id());
                }
            }
            for (List<Sample> c : cs) {
                int best = 0;
                for (int p = 1; p < 3; p++) {
                    if (relativeDeficit(target[p], count[p]) > relativeDeficit(target[best], count[best])) {
                        best = p;
                    }
                }
                count[best] += c.size();
                for (Sample s : c) {
                    parts.get(best).add(s.id());
                }
            }
        }
        for (List<String> p : parts) {
            Collections.sort(p);
        }
        Map<String, SplitCounts> counts = countByLabel(byId, parts);
        String method = String.format(
                        Locale.ROOT,
                        "stratified by class label, per class round(n*%.4g) val and "
                                + "round(n*%.4g) test, the rest train; duplicate groups kept whole (%s)",
                        fv,
                        ft,
                        describe(groups))
                + (forceTest.isEmpty()
                        ? ""
                        : "; " + forceTest.size() + " listed samples (with their duplicate groups)"
                                + " placed in test first");
        return new Split(
                Split.FORMAT_VERSION,
                seed,
                method,
                List.of(train / sum, fv, ft),
                counts,
                groups.groupCount(),
                groups.samplesInGroups(),
                groups.groups(),
                parts.get(0),
                parts.get(1),
                parts.get(2));
    }

    /**
     * Reuses the split in {@code file} if it exists (checking that every listed file exists and
     * belongs to {@code dataset}), otherwise makes a stratified split with the default duplicate
     * grouping and saves it there.
     */
    public static Split loadOrCreate(
            Path file, SegmentationDataset dataset, double train, double val, double test, long seed) {
        if (Files.exists(file)) {
            Split s = Split.load(file, dataset.root());
            checkBelongs(file, s, dataset);
            if (s.seed() != seed) {
                LOG.warn(
                        "{}: reusing the split made with seed {} (seed {} was asked for); delete the file for a new "
                                + "split",
                        file,
                        s.seed(),
                        seed);
            }
            int unused = dataset.size() - s.size();
            if (unused > 0) {
                LOG.warn(
                        "{}: {} samples of the dataset are in no part of this split (added after it was made?)",
                        file,
                        unused);
            }
            return s;
        }
        Split s = stratified(dataset, train, val, test, seed);
        s.save(file);
        LOG.info(
                "{}: new split {} (train/val/test per class {})", file, s.hash().substring(0, 12), s.counts());
        return s;
    }

    /** Checks that every id of the split is a sample of the dataset, naming the split file otherwise. */
    public static void checkBelongs(Path file, Split split, SegmentationDataset dataset) {
        Set<String> ids = new HashSet<>();
        for (Sample s : dataset.samples()) {
            ids.add(s.id());
        }
        for (String part : List.of("train", "val", "test")) {
            for (String id : split.part(part)) {
                if (!ids.contains(id)) {
                    throw new DataException(
                            file,
                            part + " entry '" + id + "' exists but is not a sample of the " + "dataset at "
                                    + dataset.root() + " (excluded class, or a different dataset?)");
                }
            }
        }
    }

    /** Share of a part's target still to fill; parts with no target are never chosen. */
    private static double relativeDeficit(int target, int count) {
        return target <= 0 ? Double.NEGATIVE_INFINITY : (target - count) / (double) target;
    }

    private static String majorityLabel(List<Sample> c) {
        Map<String, Integer> votes = new TreeMap<>();
        for (Sample s : c) {
            votes.merge(s.label(), 1, Integer::sum);
        }
        String best = null;
        int bestVotes = -1;
        for (Map.Entry<String, Integer> v : votes.entrySet()) { // sorted: ties go to the first label
            if (v.getValue() > bestVotes) {
                best = v.getKey();
                bestVotes = v.getValue();
            }
        }
        return best;
    }

    private static Map<String, SplitCounts> countByLabel(Map<String, Sample> byId, List<List<String>> parts) {
        Map<String, int[]> c = new TreeMap<>();
        for (int p = 0; p < 3; p++) {
            for (String id : parts.get(p)) {
                c.computeIfAbsent(byId.get(id).label(), k -> new int[3])[p]++;
            }
        }
        Map<String, SplitCounts> out = new TreeMap<>();
        c.forEach((k, v) -> out.put(k, new SplitCounts(v[0], v[1], v[2])));
        return out;
    }

    private static String describe(DuplicateGroups g) {
        Deduplication r = g.rule();
        String rule = !r.needsPixels()
                ? "no pixel comparison"
                : (r.exact() ? "identical pixels" : "")
                        + (r.exact() && r.maxDistance() >= 0 ? " or " : "")
                        + (r.maxDistance() >= 0 ? "64-bit DCT pHash within " + r.maxDistance() + " bits" : "");
        return "linked by " + rule + " or a shared explicit group id; found " + g;
    }

    private static void checkFractions(double train, double val, double test) {
        if (!(train > 0) || val < 0 || test < 0 || !Double.isFinite(train + val + test)) {
            throw new IllegalArgumentException("split fractions must be finite, train > 0, val and test >= 0; got "
                    + train + "/" + val + "/" + test);
        }
    }
}
