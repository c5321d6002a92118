package org.arunet.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.arunet.backend.Backend;
import org.arunet.tensor.Tensor;

/** SpConvMixer: {@code depth} {@link MixerBlock}s in sequence, children named "0", "1", ... */
public final class SpConvMixer extends Module {
    private final List<MixerBlock> blocks = new ArrayList<>();

    public SpConvMixer(Backend backend, int channels, int kernel, int depth) {
        super(backend);
        for (int i = 0; i < depth; i++) {
            blocks.add(child(Integer.toString(i), new MixerBlock(backend, channels, kernel)));
        }
    }

    public List<MixerBlock> blocks() {
        return Collections.unmodifiableList(blocks);
    }

    /** Inference: the blocks in sequence, each intermediate result released once the next block read it. */
    public Tensor infer(Tensor x, ActivationPool pool) {
        Tensor z = x;
        for (MixerBlock b : blocks) {
            Tensor next = b.infer(z, pool);
            if (z != x) {
                pool.release(z);
            }
            z = next;
        }
        return z;
    }

    public Tensor forward(Tensor x) {
        for (MixerBlock b : blocks) {
            x = b.forward(x);
        }
        return x;
    }

    /** Returns dx (dy itself when there are no blocks); intermediate gradients are released. */
    public Tensor backward(Tensor dy) {
        Tensor cur = dy;
        for (int i = blocks.size() - 1; i >= 0; i--) {
            Tensor next = blocks.get(i).backward(cur);
            if (cur != dy) {
                done(cur);
            }
            cur = next;
        }
        return cur;
    }
}
