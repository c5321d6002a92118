package org.arunet.data.split;

import java.util.List;

/**
 * The groups of linked samples found before splitting (only groups of two or more; every other
 * sample is a group of its own).
 *
 * @param groups sample ids of each group, each list sorted, groups sorted by their first id
 * @param exactPairs pairs of samples with identical pixels
 * @param nearPairs pairs within the perceptual-hash distance that are not exact duplicates
 * @param explicitLinks samples linked by an explicit group id (CSV {@code group} column)
 * @param rule the rule used
 */
public record DuplicateGroups(
        List<List<String>> groups, int exactPairs, int nearPairs, int explicitLinks, Deduplication rule) {
    public DuplicateGroups {
        groups = groups.stream().map(List::copyOf).toList();
    }

    /** Number of groups of two or more samples: "how many groups were merged". */
    public int groupCount() {
        return groups.size();
    }

    /** Samples that belong to a group of two or more. */
    public int samplesInGroups() {
        return groups.stream().mapToInt(List::size).sum();
    }

    /** The group holding {@code id}, or an empty list when it has no duplicate. */
    public List<String> groupOf(String id) {
        for (List<String> g : groups) {
            if (g.contains(id)) {
                return g;
            }
        }
        return List.of();
    }

    @Override
    public String toString() {
        return groupCount() + " duplicate groups holding " + samplesInGroups() + " samples (" + exactPairs
                + " exact pairs, " + nearPairs + " near pairs within " + rule.maxDistance() + " bits, "
                + explicitLinks + " explicit links)";
    }
}
