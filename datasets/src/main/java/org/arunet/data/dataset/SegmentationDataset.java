package org.arunet.data.dataset;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.arunet.data.io.DataException;

/**
 * A described (not yet decoded) segmentation data set: image/mask pairs under one root folder,
 * sorted by {@link Sample#id}.
 *
 * @param root the folder that sample ids are relative to
 * @param layout how the pairs were found
 * @param samples the pairs, ids unique, sorted by id
 * @param report what the scan skipped, excluded and noticed
 */
public record SegmentationDataset(Path root, Layout layout, List<Sample> samples, ScanReport report) {
    public SegmentationDataset {
        root = root.toAbsolutePath().normalize();
        samples = List.copyOf(samples);
        Set<String> ids = new HashSet<>();
        for (Sample s : samples) {
            if (!ids.add(s.id())) {
                throw new DataException(s.image(), "listed twice in the data set (id " + s.id() + ")");
            }
        }
    }

    public int size() {
        return samples.size();
    }

    /** Number of samples per label, labels sorted. */
    public Map<String, Integer> countByLabel() {
        Map<String, Integer> counts = new TreeMap<>();
        for (Sample s : samples) {
            counts.merge(s.label(), 1, Integer::sum);
        }
        return counts;
    }

    /** The sample with this id; a {@link DataException} naming the file when there is none. */
    public Sample byId(String id) {
        Sample s = index().get(id);
        if (s == null) {
            throw new DataException(root.resolve(id), "not in the data set scanned from " + root);
        }
        return s;
    }

    /** The samples with these ids, in the order given. */
    public List<Sample> select(Collection<String> ids) {
        Map<String, Sample> index = index();
        List<Sample> out = new ArrayList<>(ids.size());
        for (String id : ids) {
            Sample s = index.get(id);
            if (s == null) {
                throw new DataException(root.resolve(id), "not in the data set scanned from " + root);
            }
            out.add(s);
        }
        return out;
    }

    private Map<String, Sample> index() {
        Map<String, Sample> m = new HashMap<>();
        for (Sample s : samples) {
            m.put(s.id(), s);
        }
        return m;
    }

    @Override
    public String toString() {
        return "SegmentationDataset[" + root + ", " + layout + ", " + samples.size() + " samples " + countByLabel()
                + (report.skipped().isEmpty() ? "" : ", " + report.skipped().size() + " skipped")
                + (report.excludedByClass().isEmpty() ? "" : ", excluded " + report.excludedByClass()) + "]";
    }
}
