package org.arunet.train;

import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.model.ArUNet;
import org.arunet.model.SegmentationModel;
import org.arunet.nn.Parameter;
import org.arunet.tensor.Tensor;

/**
 * Test models that are an {@link ArUNet} except for what they do to its gradients: everything is
 * delegated to the wrapped network (parameter and state names are the network's own); subclasses
 * change the gradients in {@link #afterBackward()}.
 */
abstract class WrappedModel extends SegmentationModel {
    protected final ArUNet net;

    WrappedModel(Backend be, ArUNet net) {
        super(be);
        this.net = child("net", net);
    }

    /** Runs after the wrapped network's backward pass, with its gradients written. */
    protected abstract void afterBackward();

    @Override
    public final void backward(Tensor dLogits) {
        net.backward(dLogits);
        afterBackward();
    }

    @Override
    public Map<String, Parameter> namedParameters() {
        return net.namedParameters();
    }

    @Override
    public Map<String, Tensor> stateDict() {
        return net.stateDict();
    }

    @Override
    public int inChannels() {
        return net.inChannels();
    }

    @Override
    public int classes() {
        return net.classes();
    }

    @Override
    public int sizeMultiple() {
        return net.sizeMultiple();
    }

    @Override
    public Tensor forward(Tensor x) {
        return net.forward(x);
    }

    @Override
    public Map<String, String> architecture() {
        return net.architecture();
    }

    @Override
    public long macs(int height, int width) {
        return net.macs(height, width);
    }
}
