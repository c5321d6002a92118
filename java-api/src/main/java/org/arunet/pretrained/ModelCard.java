package org.arunet.pretrained;

import java.util.Map;

/**
 * What a model catalog says about one shipped model: the facts a user reads before using it and the
 * facts the loader checks the weights against.
 *
 * @param name the name to load it by, e.g. {@code busi-compact}
 * @param version the model's own version (a retrained model gets a new one)
 * @param summary one line: architecture, input size, data
 * @param resource class-path resource of the checkpoint (safetensors)
 * @param sha256 SHA-256 of that resource, lower-case hex; verified on every load
 * @param bytes size of the resource in bytes
 * @param parameters trainable parameters of the network
 * @param architecture the architecture the checkpoint must record (its {@code architecture} metadata)
 * @param preprocessing the preprocessing the checkpoint must record (its {@code preprocessing} metadata)
 * @param card class-path resource of the model card (Markdown): data, recipe, metrics, limits
 * @param data the training data in a few words, with its licence
 * @param intendedUse what it may be used for (research; not a medical device)
 */
public record ModelCard(
        String name,
        String version,
        String summary,
        String resource,
        String sha256,
        long bytes,
        long parameters,
        Map<String, String> architecture,
        Map<String, String> preprocessing,
        String card,
        String data,
        String intendedUse) {
    public ModelCard {
        architecture = Map.copyOf(architecture);
        preprocessing = Map.copyOf(preprocessing);
    }

    /** Network input side in pixels, from the preprocessing. */
    public int imageSize() {
        return Integer.parseInt(preprocessing.getOrDefault("image_size", "0"));
    }
}
