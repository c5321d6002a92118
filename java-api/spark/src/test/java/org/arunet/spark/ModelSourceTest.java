package org.arunet.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.arunet.pretrained.PretrainedModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How an executor finds the model: a shipped one by name, a checkpoint by path or file URI, or an error naming it. */
class ModelSourceTest {
    @TempDir
    Path dir;

    @Test
    void shippedModelsByNameCheckpointsByPathOrUri() throws Exception {
        ModelSource shipped = ModelSource.resolve("busi-compact");
        assertEquals("busi-compact", shipped.name());
        assertEquals("1", shipped.version());

        Path ckpt = dir.resolve("mine.safetensors");
        Files.copy(PretrainedModels.onClassPath().checkpoint("busi-compact"), ckpt);
        String sha = PretrainedModels.sha256(ckpt);
        for (String ref : new String[] {ckpt.toString(), ckpt.toUri().toString()}) {
            ModelSource m = ModelSource.resolve(ref);
            assertEquals(ckpt, m.checkpoint(), ref);
            assertEquals("mine.safetensors", m.name());
            assertEquals("sha256:" + sha.substring(0, 12), m.version());
        }
    }

    @Test
    void anUnknownModelIsRefusedNamingItAndTheKnownOnes() throws Exception {
        IOException e = assertThrows(IOException.class, () -> ModelSource.resolve("busi-huge"));
        assertTrue(
                e.getMessage().contains("model busi-huge") && e.getMessage().contains("busi-compact"), e.getMessage());
        Files.createDirectories(dir.resolve("folder.safetensors"));
        e = assertThrows(
                IOException.class,
                () -> ModelSource.resolve(dir.resolve("folder.safetensors").toString()));
        assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
    }
}
