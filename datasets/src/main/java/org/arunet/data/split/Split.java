package org.arunet.data.split;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.arunet.data.dataset.Sample;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.io.DataException;

/**
 * A train/validation/test split: sample ids (image paths relative to the dataset root, {@code /}
 * separated, sorted) with how the split was made, stored as JSON by {@link #save} and read back by
 * {@link #load(Path, Path)}, which refuses paths that are absolute, leave the root or hold control
 * characters, and names any listed file that does not exist. The JSON is read strictly: no key twice,
 * nothing after the document.
 *
 * @param formatVersion {@link #FORMAT_VERSION}
 * @param seed the seed the split was drawn with
 * @param method how the split was made, in words
 * @param fractions requested train, val, test fractions
 * @param counts samples per class (the sample's own label) in each part
 * @param duplicateGroups groups of two or more linked samples that were kept together
 * @param samplesInDuplicateGroups samples in those groups
 * @param duplicates the groups themselves, for audit
 * @param train training sample ids
 * @param val validation sample ids
 * @param test test sample ids
 */
public record Split(
        int formatVersion,
        long seed,
        String method,
        List<Double> fractions,
        Map<String, SplitCounts> counts,
        int duplicateGroups,
        int samplesInDuplicateGroups,
        List<List<String>> duplicates,
        List<String> train,
        List<String> val,
        List<String> test) {
    /** Version written by this code; {@link #load} refuses others. */
    public static final int FORMAT_VERSION = 1;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS) // no second document after the first
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION) // no key given twice
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public Split {
        present("method", method);
        present("fractions", fractions);
        present("counts", counts);
        present("duplicates", duplicates);
        present("train", train);
        present("val", val);
        present("test", test);
        train = List.copyOf(train);
        val = List.copyOf(val);
        test = List.copyOf(test);
        fractions = List.copyOf(fractions);
        counts = Collections.unmodifiableMap(new TreeMap<>(counts)); // sorted: stable JSON
        duplicates = duplicates.stream().map(List::copyOf).toList();
    }

    private static void present(String field, Object value) {
        if (value == null) {
            throw new IllegalArgumentException("split field '" + field + "' is missing");
        }
    }

    /** Total samples in the three parts. */
    public int size() {
        return train.size() + val.size() + test.size();
    }

    /** The samples of each part, looked up in {@code dataset}; an id missing there is an error. */
    public Parts select(SegmentationDataset dataset) {
        return new Parts(dataset.select(train), dataset.select(val), dataset.select(test));
    }

    /**
     * The samples of one split, each list in the split's (sorted) order.
     *
     * @param train training samples
     * @param val validation samples
     * @param test test samples
     */
    public record Parts(List<Sample> train, List<Sample> val, List<Sample> test) {}

    /** SHA-256 over the three id lists: identifies the split in checkpoints and reports. */
    public String hash() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (List<String> part : List.of(train, val, test)) {
                for (String id : part) {
                    md.update(id.getBytes(StandardCharsets.UTF_8));
                    md.update((byte) '\n');
                }
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** Writes the split as JSON (to a temporary file first, then moved into place). */
    public void save(Path file) {
        Path f = file.toAbsolutePath();
        try {
            Path dir = f.getParent();
            if (dir != null) {
                Files.createDirectories(dir);
            }
            Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
            Files.write(tmp, JSON.writeValueAsBytes(this));
            Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new DataException(f, "cannot write split file: " + e, e);
        }
    }

    /**
     * Reads a split file and checks its structure: version, the three lists present, no id twice,
     * no id that is empty, absolute, not normalised or leaving the root with {@code ..}. Does not
     * look at the files; see {@link #load(Path, Path)}.
     */
    public static Split load(Path file) {
        Split s;
        try {
            s = JSON.readValue(Files.readAllBytes(file), Split.class);
        } catch (NoSuchFileException e) {
            throw new DataException(file, "split file does not exist", e);
        } catch (JsonProcessingException e) {
            throw new DataException(file, "not a valid split file: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new DataException(file, "cannot read split file: " + e, e);
        }
        if (s == null) {
            throw new DataException(file, "split file is empty");
        }
        if (s.formatVersion() != FORMAT_VERSION) {
            throw new DataException(
                    file, "split file format version " + s.formatVersion() + ", this code reads " + FORMAT_VERSION);
        }
        Map<String, String> partOf = new HashMap<>();
        for (String part : List.of("train", "val", "test")) {
            List<String> ids = s.part(part);
            for (String id : ids) {
                String problem = unsafe(id);
                if (problem != null) {
                    throw new DataException(file, part + " entry '" + id + "' " + problem);
                }
                String prev = partOf.put(id, part);
                if (prev != null) {
                    throw new DataException(file, part + " entry '" + id + "' is also listed in " + prev);
                }
            }
        }
        return s;
    }

    /** {@link #load(Path)}, then checks that every listed file exists under {@code root}. */
    public static Split load(Path file, Path root) {
        Split s = load(file);
        Path r = root.toAbsolutePath().normalize();
        List<String> missing = new ArrayList<>();
        String firstPart = null;
        for (String part : List.of("train", "val", "test")) {
            for (String id : s.part(part)) {
                if (!Files.isRegularFile(r.resolve(id))) {
                    if (missing.isEmpty()) {
                        firstPart = part;
                    }
                    missing.add(id);
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new DataException(
                    file,
                    firstPart + " entry '" + missing.get(0) + "' names a file that does not exist: "
                            + r.resolve(missing.get(0))
                            + (missing.size() > 1 ? " (" + missing.size() + " listed files are " + "missing)" : ""));
        }
        return s;
    }

    /** One part by name: {@code train}, {@code val} or {@code test}. */
    public List<String> part(String name) {
        return switch (name) {
            case "train" -> train;
            case "val" -> val;
            case "test" -> test;
            default -> throw new IllegalArgumentException("no split part " + name + " (train, val, test)");
        };
    }

    /** Why an id may not appear in a split file, or null if it may. */
    static String unsafe(String id) {
        if (id == null || id.isEmpty()) {
            return "is empty";
        }
        if (id.startsWith("/") || id.startsWith("\\") || id.matches("^[A-Za-z]:.*")) {
            return "is an absolute path; split files hold paths relative to the dataset root";
        }
        for (int i = 0; i < id.length(); i++) {
            if (Character.isISOControl(id.charAt(i))) {
                return "contains a control character (U+" + String.format("%04X", (int) id.charAt(i)) + ")";
            }
        }
        if (id.contains("\\")) {
            return "contains a backslash; split files use / as separator";
        }
        for (String seg : id.split("/", -1)) {
            if (seg.equals("..")) {
                return "leaves the dataset root (..)";
            }
            if (seg.isEmpty() || seg.equals(".")) {
                return "is not a normalised relative path";
            }
        }
        return null;
    }
}
