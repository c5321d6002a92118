package org.arunet.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.io.SafeTensors;
import org.arunet.nn.Module;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.tensor.Transpose;

/**
 * A PyTorch reference fixture ({@code src/test/resources/fixtures/*.safetensors}, written by
 * {@code ../shared/reference/make_fixtures.py}): NCHW tensors, converted here to our NHWC.
 */
public final class Fixture implements AutoCloseable {
    /**
     * Gradients are compared norm-wise with a denominator of at least this fraction of the largest
     * reference gradient norm: a bias feeding a BatchNorm has an exact gradient of zero, and both
     * PyTorch's and our values for it are rounding noise (around 1e-9 against gradients of 1e-2).
     */
    public static final double GRAD_FLOOR = 1e-4;

    private final SafeTensors.Reader reader;

    private Fixture(SafeTensors.Reader reader) {
        this.reader = reader;
    }

    public static Fixture load(String name) {
        URL url = Fixture.class.getResource("/fixtures/" + name);
        if (url == null) {
            throw new IllegalStateException("fixture " + name + " not on the test classpath");
        }
        try {
            return new Fixture(SafeTensors.open(file(url, name)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The fixture as a file: where it lies in a classes folder, or a temporary copy when it comes from a
     * jar (other modules' tests read the fixtures from arunet-core's test-jar).
     */
    private static Path file(URL url, String name) throws IOException, URISyntaxException {
        if ("file".equals(url.getProtocol())) {
            return Path.of(url.toURI());
        }
        Path copy = Files.createTempFile("arunet-fixture-", "-" + name);
        copy.toFile().deleteOnExit();
        try (InputStream in = url.openStream()) {
            Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
        }
        return copy;
    }

    public SafeTensors.Reader reader() {
        return reader;
    }

    public int[] shape(String key) {
        try {
            return reader.entry(key).shape();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Values as stored (NCHW for activations). */
    public float[] floats(String key) {
        try {
            return reader.readFloats(key);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The largest 2-norm among the tensors whose names start with {@code prefix}. */
    public double largestNorm(String prefix) {
        double best = 0;
        for (String k : reader.entries().keySet()) {
            if (k.startsWith(prefix)) {
                double s = 0;
                for (float v : floats(k)) {
                    s += (double) v * v;
                }
                best = Math.max(best, Math.sqrt(s));
            }
        }
        return best;
    }

    /** A rank-4 NCHW activation as NHWC values. */
    public float[] nhwc(String key) {
        int[] s = shape(key);
        return Transpose.nchwToNhwc(floats(key), s[0], s[1], s[2], s[3]);
    }

    /** A rank-4 NCHW activation as an NHWC tensor on the backend (caller closes it). */
    public Tensor nhwcTensor(Backend b, String key) {
        int[] s = shape(key);
        Tensor t = b.allocate(DType.F32, Layout.NHWC, s[0], s[2], s[3], s[1]);
        t.copyFrom(nhwc(key));
        return t;
    }

    /** An int64 class-index map as an I32 tensor (caller closes it). */
    public Tensor targetTensor(Backend b, String key) {
        try {
            long[] v = reader.readLongs(key);
            int[] iv = new int[v.length];
            for (int i = 0; i < v.length; i++) {
                iv[i] = Math.toIntExact(v[i]);
            }
            Tensor t = b.allocate(DType.I32, Layout.PLAIN, shape(key));
            t.copyFrom(iv);
            return t;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Loads every {@code prefix + name} tensor into the module's state of the same name. */
    public void loadInto(Module m, String prefix) {
        Map<String, Tensor> state = new LinkedHashMap<>();
        try {
            for (String k : reader.entries().keySet()) {
                if (k.startsWith(prefix)) {
                    state.put(k.substring(prefix.length()), reader.read(k, Layout.PLAIN));
                }
            }
            m.loadStateDict(state, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            state.values().forEach(Tensor::close);
        }
    }

    /** Reads a tensor's values from the module's state, NHWC activations converted to NCHW order. */
    public static float[] toNchw(Tensor t) {
        float[] v = t.toFloatArray();
        if (t.layout() == Layout.NHWC) {
            return Transpose.nhwcToNchw(v, t.dim(0), t.dim(1), t.dim(2), t.dim(3));
        }
        return v;
    }

    @Override
    public void close() {
        try {
            reader.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
