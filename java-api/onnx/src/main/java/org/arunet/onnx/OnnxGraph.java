package org.arunet.onnx;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import onnx.Onnx.AttributeProto;
import onnx.Onnx.GraphProto;
import onnx.Onnx.NodeProto;
import onnx.Onnx.TensorProto;
import onnx.Onnx.TensorShapeProto;
import onnx.Onnx.TypeProto;
import onnx.Onnx.ValueInfoProto;

/**
 * Builds one ONNX {@link GraphProto}: nodes in topological order (each node's output carries the
 * node's name), initializers, graph inputs and outputs. Names must be unique; a repeated name is a
 * bug of the caller and throws.
 */
final class OnnxGraph {
    private final GraphProto.Builder graph = GraphProto.newBuilder();
    private final Set<String> values = new HashSet<>();
    private final Set<String> nodeNames = new HashSet<>();
    private final Set<String> constants = new HashSet<>();

    OnnxGraph(String name, String doc) {
        graph.setName(name).setDocString(doc);
    }

    /**
     * A graph input or output of element type float with the given dimensions: an {@link Integer}
     * is a fixed size, a {@link String} a symbolic one (dynamic, e.g. "N").
     */
    private static ValueInfoProto valueInfo(String name, String doc, Object... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            if (d instanceof Integer i) {
                shape.addDimBuilder().setDimValue(i);
            } else {
                shape.addDimBuilder().setDimParam((String) d);
            }
        }
        TypeProto type = TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder()
                        .setElemType(TensorProto.DataType.FLOAT_VALUE)
                        .setShape(shape))
                .build();
        return ValueInfoProto.newBuilder()
                .setName(name)
                .setDocString(doc)
                .setType(type)
                .build();
    }

    String input(String name, String doc, Object... dims) {
        claimValue(name);
        graph.addInput(valueInfo(name, doc, dims));
        return name;
    }

    void output(String name, String doc, Object... dims) {
        if (!values.contains(name)) {
            throw new IllegalStateException("ONNX graph: output '" + name + "' is computed by no node");
        }
        graph.addOutput(valueInfo(name, doc, dims));
    }

    /** A float initializer from raw little-endian bytes (row-major in the order of {@code dims}). */
    String initializer(String name, int[] dims, byte[] littleEndianFloats) {
        long n = 1;
        for (int d : dims) {
            n *= d;
        }
        if (littleEndianFloats.length != 4 * n) {
            throw new IllegalStateException("ONNX graph: initializer '" + name + "' has " + littleEndianFloats.length
                    + " bytes for dims " + Arrays.toString(dims));
        }
        claimValue(name);
        TensorProto.Builder t = TensorProto.newBuilder()
                .setName(name)
                .setDataType(TensorProto.DataType.FLOAT_VALUE)
                .setRawData(ByteString.copyFrom(littleEndianFloats));
        for (int d : dims) {
            t.addDims(d);
        }
        graph.addInitializer(t);
        return name;
    }

    /** A shared float constant (scalar when {@code dims} is empty), created on first use. */
    String constant(String name, float[] v, int... dims) {
        String key = "const." + name;
        if (constants.contains(key)) {
            return key;
        }
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        initializer(key, dims, b.array());
        constants.add(key);
        return key;
    }

    /** A shared int64 constant vector, created on first use. */
    String constantInts(String name, long... v) {
        String key = "const." + name;
        if (constants.contains(key)) {
            return key;
        }
        claimValue(key);
        TensorProto.Builder t = TensorProto.newBuilder()
                .setName(key)
                .setDataType(TensorProto.DataType.INT64_VALUE)
                .addDims(v.length);
        for (long x : v) {
            t.addInt64Data(x);
        }
        graph.addInitializer(t);
        constants.add(key);
        return key;
    }

    /**
     * Adds a node named {@code name} whose single output is the value {@code output}; the inputs must be
     * graph inputs, initializers or outputs of earlier nodes ("" for an omitted optional input).
     */
    String node(String opType, String name, String output, List<String> inputs, AttributeProto... attributes) {
        if (!nodeNames.add(name)) {
            throw new IllegalStateException("ONNX graph: node name '" + name + "' used twice");
        }
        for (String in : inputs) {
            if (!in.isEmpty() && !values.contains(in)) {
                throw new IllegalStateException(
                        "ONNX graph: node '" + name + "' reads '" + in + "', which is not" + " defined before it");
            }
        }
        claimValue(output);
        NodeProto.Builder n = NodeProto.newBuilder()
                .setOpType(opType)
                .setName(name)
                .addAllInput(inputs)
                .addOutput(output);
        for (AttributeProto a : attributes) {
            n.addAttribute(a);
        }
        graph.addNode(n);
        return output;
    }

    /** {@link #node} whose output value is named like the node. */
    String node(String opType, String name, List<String> inputs, AttributeProto... attributes) {
        return node(opType, name, name, inputs, attributes);
    }

    private void claimValue(String name) {
        if (name.isEmpty() || !values.add(name)) {
            throw new IllegalStateException("ONNX graph: value name '" + name + "' is empty or used twice");
        }
    }

    int nodeCount() {
        return graph.getNodeCount();
    }

    int initializerCount() {
        return graph.getInitializerCount();
    }

    GraphProto build() {
        return graph.build();
    }

    // ------------------------------------------------------------------ attributes

    static AttributeProto ints(String name, long... v) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long x : v) {
            a.addInts(x);
        }
        return a.build();
    }

    static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder()
                .setName(name)
                .setType(AttributeProto.AttributeType.INT)
                .setI(v)
                .build();
    }

    static AttributeProto floatAttr(String name, float v) {
        return AttributeProto.newBuilder()
                .setName(name)
                .setType(AttributeProto.AttributeType.FLOAT)
                .setF(v)
                .build();
    }

    static AttributeProto stringAttr(String name, String v) {
        return AttributeProto.newBuilder()
                .setName(name)
                .setType(AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(v))
                .build();
    }

    static List<String> in(String... names) {
        return new ArrayList<>(Arrays.asList(names));
    }
}
