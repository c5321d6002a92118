package org.arunet.pretrained;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.io.SafeTensors;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.model.SegmentationModel;
import org.arunet.nn.Init;
import org.arunet.tensor.DType;
import org.arunet.tensor.Half;
import org.arunet.tensor.Tensor;
import org.arunet.train.Checkpoint;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Packing a trained checkpoint as a shipped model, and loading it by name with every check. */
class PretrainedModelsTest {
    @TempDir
    Path dir;

    Path trained;
    Path jarRoot;
    Path cache;

    static final Map<String, String> PRE = Map.of(
            "image_size",
            "32",
            "channels",
            "3",
            "mean",
            "0.5",
            "std",
            "0.5",
            "resize",
            "area when shrinking, bilinear when enlarging");

    @BeforeEach
    void trainedCheckpoint() throws IOException {
        trained = dir.resolve("trained.safetensors");
        jarRoot = dir.resolve("jar");
        cache = dir.resolve("cache");
        try (Backend ref = Backends.reference();
                SegmentationModel m =
                        new ArUNet(ref, ArUNetConfig.paper().withWidth(4).withMixerDepth(1), Init.Scheme.PYTORCH, 5)) {
            String provenance = new ObjectMapper()
                    .writeValueAsString(Map.of("dataset", "/home/someone/data/busi", "split_hash", "abc", "seed", "7"));
            Checkpoint.save(
                    trained,
                    m,
                    null,
                    Map.of(
                            "preprocessing",
                            new ObjectMapper().writeValueAsString(PRE),
                            "classes",
                            "2",
                            "provenance",
                            provenance));
        }
    }

    private ModelCard pack(boolean fp16) throws IOException {
        Path card = dir.resolve("card.md");
        Files.writeString(card, "# tiny\nA test model.\n");
        return ModelPacker.pack(
                new ModelPacker.Request(trained, "tiny", "1", "a tiny test model", "none", "tests only", fp16, card),
                jarRoot);
    }

    private PretrainedModels registry() throws IOException {
        URLClassLoader loader = new URLClassLoader(new URL[] {jarRoot.toUri().toURL()}, null);
        return PretrainedModels.of(loader, cache);
    }

    @Test
    void packedModelLoadsByNameWithTheSameWeights() throws IOException {
        ModelCard c = pack(true);
        PretrainedModels zoo = registry();
        assertEquals(java.util.List.of(c), zoo.list());
        assertEquals("# tiny\nA test model.\n", zoo.cardText("tiny"));
        Path f = zoo.checkpoint("tiny");
        assertTrue(f.startsWith(cache), f.toString());
        assertEquals(c.sha256(), PretrainedModels.sha256(f));
        assertEquals(32, c.imageSize());
        try (Backend ref = Backends.reference();
                SegmentationModel original = Checkpoint.loadModel(trained, ref);
                SegmentationModel shipped = Checkpoint.loadModel(f, ref);
                SafeTensors.Reader r = SafeTensors.open(f)) {
            assertEquals(original.parameterCount(), c.parameters());
            assertFalse(r.entries().keySet().stream().anyMatch(k -> k.startsWith("optim.")), "no optimizer state");
            assertEquals(DType.F16, r.entry("model.head.weight").dtype(), "stored in float16");
            Map<String, Tensor> a = original.stateDict();
            Map<String, Tensor> b = shipped.stateDict();
            assertEquals(a.keySet(), b.keySet());
            for (String k : a.keySet()) {
                if (a.get(k).dtype() != DType.F32) {
                    assertArrayEquals(a.get(k).toLongArray(), b.get(k).toLongArray(), k);
                    continue;
                }
                float[] x = a.get(k).toFloatArray();
                float[] y = b.get(k).toFloatArray();
                for (int i = 0; i < x.length; i++) {
                    assertEquals(
                            Half.toFloat(Half.fromFloat(x[i])),
                            y[i],
                            0f,
                            k + "[" + i + "] is the float16 of the" + " trained value");
                }
            }
            String prov = r.metadata().get("provenance");
            assertFalse(prov.contains("/home/someone"), "no machine paths in a shipped model: " + prov);
            assertTrue(prov.contains("\"dataset\":\"busi\""), prov);
        }
        // A second load reuses the verified cached copy.
        assertEquals(f, registry().checkpoint("tiny"));
    }

    @Test
    void float32PackingKeepsTheWeightsExactly() throws IOException {
        pack(false);
        Path f = registry().checkpoint("tiny");
        try (SafeTensors.Reader a = SafeTensors.open(trained);
                SafeTensors.Reader b = SafeTensors.open(f)) {
            assertArrayEquals(a.readFloats("model.head.weight"), b.readFloats("model.head.weight"));
        }
    }

    @Test
    void unknownNameListsTheKnownOnes() throws IOException {
        pack(true);
        PretrainedModels.UnknownModelException e = assertThrows(
                PretrainedModels.UnknownModelException.class, () -> registry().checkpoint("busi-huge"));
        assertEquals("no model named 'busi-huge'; known models: tiny", e.getMessage());
        PretrainedModels empty = PretrainedModels.of(new URLClassLoader(new URL[0], null), cache);
        e = assertThrows(PretrainedModels.UnknownModelException.class, () -> empty.card("tiny"));
        assertTrue(e.getMessage().contains("add org.arunet:arunet-models"), e.getMessage());
    }

    @Test
    void tamperedFileIsRefusedWithOneLine() throws IOException {
        ModelCard c = pack(true);
        Path shipped = jarRoot.resolve(c.resource());
        byte[] b = Files.readAllBytes(shipped);
        b[b.length - 3] ^= 0x10; // one bit of one weight
        Files.write(shipped, b);
        IOException e = assertThrows(IOException.class, () -> registry().checkpoint("tiny"));
        assertTrue(e.getMessage().startsWith("model tiny: checksum mismatch"), e.getMessage());
        assertTrue(e.getMessage().contains(c.sha256()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
        assertFalse(Files.exists(cache.resolve(c.sha256()).resolve("tiny.safetensors")), "nothing left in the cache");
    }

    @Test
    void tamperedCachedCopyIsReplacedByTheVerifiedOne() throws IOException {
        ModelCard c = pack(true);
        Path f = registry().checkpoint("tiny");
        Files.write(f, new byte[] {1, 2, 3});
        Path again = registry().checkpoint("tiny");
        assertEquals(c.sha256(), PretrainedModels.sha256(again));
    }

    @Test
    void cardThatDisagreesWithItsWeightsIsRefused() throws IOException {
        pack(true);
        Path catalog = jarRoot.resolve(PretrainedModels.CATALOG);
        String json = Files.readString(catalog);
        Files.writeString(catalog, json.replace("\"width\" : \"4\"", "\"width\" : \"16\""));
        IOException e = assertThrows(IOException.class, () -> registry().checkpoint("tiny"));
        assertEquals(
                "model tiny: its card says architecture width=16 but its weights record width=4; refused",
                e.getMessage());
        Files.writeString(catalog, json.replace("\"image_size\" : \"32\"", "\"image_size\" : \"64\""));
        e = assertThrows(IOException.class, () -> registry().checkpoint("tiny"));
        assertTrue(e.getMessage().contains("preprocessing image_size=64"), e.getMessage());
    }

    @Test
    void malformedCatalogsAreRefusedNamingTheProblem() throws IOException {
        pack(true);
        Path catalog = jarRoot.resolve(PretrainedModels.CATALOG);
        String json = Files.readString(catalog);
        Files.writeString(
                catalog,
                json.replace(
                        "\"resource\" : \"org/arunet/models/tiny.safetensors\"",
                        "\"resource\" : \"../../etc/passwd\""));
        RuntimeException e = assertThrows(RuntimeException.class, this::registry);
        assertTrue(e.getMessage().contains("resource path '../../etc/passwd' is not allowed"), e.getMessage());
        Files.writeString(catalog, json.replace("\"name\" : \"tiny\"", "\"name\" : \"Tiny Model\""));
        e = assertThrows(RuntimeException.class, this::registry);
        assertTrue(e.getMessage().contains("model name 'Tiny Model' is not allowed"), e.getMessage());
        Files.writeString(catalog, "{\"format\": \"something-else\"}");
        e = assertThrows(RuntimeException.class, this::registry);
        assertTrue(e.getMessage().contains("not a model catalog"), e.getMessage());
    }

    @Test
    void repackingReplacesTheEntry() throws IOException {
        ModelCard first = pack(true);
        ModelCard second = pack(false);
        assertNotEquals(first.sha256(), second.sha256());
        assertEquals(java.util.List.of(second), registry().list());
    }
}
