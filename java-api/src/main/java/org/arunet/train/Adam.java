package org.arunet.train;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.nn.Parameter;
import org.arunet.tensor.DType;
import org.arunet.tensor.Tensor;

/**
 * Adam, as PyTorch's {@code torch.optim.Adam} (bias-corrected; optional L2 weight decay added to the
 * gradient). Keeps first and second moments per parameter, named after the parameters so that they
 * can be checkpointed ({@link #state()}) and restored ({@link #loadState}).
 */
public final class Adam implements AutoCloseable {
    private final Backend backend;
    private final Map<String, Parameter> params;
    private final Map<String, Tensor> m = new LinkedHashMap<>();
    private final Map<String, Tensor> v = new LinkedHashMap<>();
    private float lr;
    private final float beta1;
    private final float beta2;
    private final float eps;
    private final float weightDecay;
    private long step;

    public Adam(
            Backend backend,
            Map<String, Parameter> params,
            float lr,
            float beta1,
            float beta2,
            float eps,
            float weightDecay) {
        if (!(lr >= 0)
                || !(beta1 >= 0 && beta1 < 1)
                || !(beta2 >= 0 && beta2 < 1)
                || !(eps > 0)
                || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("Adam: invalid hyper-parameters lr=" + lr + " betas=(" + beta1 + ", "
                    + beta2 + ") eps=" + eps + " weight_decay=" + weightDecay);
        }
        this.backend = backend;
        this.params = new LinkedHashMap<>(params);
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        for (Map.Entry<String, Parameter> e : this.params.entrySet()) {
            Tensor p = e.getValue().value();
            m.put(e.getKey(), backend.allocate(DType.F32, p.layout(), p.shape()));
            v.put(e.getKey(), backend.allocate(DType.F32, p.layout(), p.shape()));
        }
    }

    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay. */
    public static Adam of(Backend backend, Map<String, Parameter> params, float lr) {
        return new Adam(backend, params, lr, 0.9f, 0.999f, 1e-8f, 0f);
    }

    public float learningRate() {
        return lr;
    }

    public void setLearningRate(float lr) {
        if (!(lr >= 0)) {
            throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        }
        this.lr = lr;
    }

    /** Steps taken so far. */
    public long steps() {
        return step;
    }

    /** Updates every parameter from its gradient. */
    public void step() {
        step++;
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Parameter p = e.getValue();
            backend.adamStep(
                    p.value(),
                    p.grad(),
                    m.get(e.getKey()),
                    v.get(e.getKey()),
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weightDecay,
                    step);
        }
    }

    /** Moments by name: {@code m.<param>} and {@code v.<param>} (live tensors). */
    public Map<String, Tensor> state() {
        Map<String, Tensor> s = new LinkedHashMap<>();
        m.forEach((k, t) -> s.put("m." + k, t));
        v.forEach((k, t) -> s.put("v." + k, t));
        return Collections.unmodifiableMap(s);
    }

    /** Restores moments and the step count saved from {@link #state()}. */
    public void loadState(Map<String, Tensor> s, long steps) {
        for (String k : params.keySet()) {
            Tensor sm = s.get("m." + k);
            Tensor sv = s.get("v." + k);
            if (sm == null || sv == null) {
                throw new IllegalArgumentException("optimizer state lacks the moments of " + k);
            }
            m.get(k).copyFrom(sm);
            v.get(k).copyFrom(sv);
        }
        this.step = steps;
    }

    @Override
    public void close() {
        m.values().forEach(Tensor::close);
        v.values().forEach(Tensor::close);
    }
}
