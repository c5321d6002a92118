package org.arunet.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Activation memory of passes through a network, recycled as soon as a value is dead.
 *
 * <p>A pass takes every intermediate tensor from the pool with {@link #acquire} and gives it back
 * with {@link #release} once its last reader ran, so the memory held follows the values alive at
 * once rather than the sum of all of them. Two ways of serving requests:
 * <ul>
 *   <li>Best fit (the default): the smallest free block that holds the request (a view of its first
 *       elements), else a new block of exactly its size; blocks are never split or freed before
 *       {@link #close()}. Passes of the same shapes make the same requests in the same order, so from
 *       the second pass on nothing is allocated. Reusing blocks of other sizes wastes some memory
 *       (about half as much again as the live peak in ARU-Net's inference pass).
 *   <li>Planned ({@link #record()} then {@link #plan(long)}): the request sequence of a recorded pass
 *       is laid out once in one arena, greedily by size (the largest tensors first, each at the lowest
 *       offset that no tensor alive at the same time covers), which reaches the live peak in practice.
 *       A pass of the same request sequence with every size multiplied by {@code scale} then takes
 *       its tensors at their planned offsets ({@link #beginPass()} starts one). A request that does not
 *       match the plan drops it and falls back to best fit, so a plan can never hand out wrong memory.
 * </ul>
 *
 * <p>Tensors handed out are F32 views; using one after its release or after {@link #close()} is a
 * bug the pool cannot see (the memory is reused). Not thread-safe: one pass at a time.
 */
public final class ActivationPool implements AutoCloseable {
    /** Planned offsets are multiples of this many floats (64 bytes, the alignment oneDNN prefers). */
    private static final int ALIGN = 16;

    private final Backend backend;
    private final List<Tensor> free = new ArrayList<>();
    private final Map<Tensor, Tensor> lent = new IdentityHashMap<>(); // view -> block (null: the arena)
    private final List<Tensor> blocks = new ArrayList<>();
    private long bytes;
    private long lentBytes;
    private long peakLentBytes;

    // recording: one event per acquire (its size) and the acquire index of each release
    private boolean recording;
    private final List<Long> recordedSizes = new ArrayList<>();
    private final List<long[]> recordedLifetimes = new ArrayList<>(); // {first event, last event}
    private final Map<Tensor, Integer> recordedIds = new IdentityHashMap<>();
    private int events;

    // the plan being replayed
    private Tensor arena;
    private long[] planSizes;
    private long[] planOffsets;
    private int next;

    public ActivationPool(Backend backend) {
        this.backend = backend;
    }

    /** An F32 tensor of this shape and layout whose contents are undefined. */
    public Tensor acquire(Layout layout, int... shape) {
        long numel = Tensor.numel(shape);
        Tensor view = arena != null ? planned(numel, layout, shape) : null;
        if (view == null) {
            view = bestFit(numel, layout, shape);
        }
        lentBytes += view.bytes();
        peakLentBytes = Math.max(peakLentBytes, lentBytes);
        if (recording) {
            recordedIds.put(view, recordedSizes.size());
            recordedSizes.add(numel);
            recordedLifetimes.add(new long[] {events, Long.MAX_VALUE});
            events++;
        }
        return view;
    }

    /** An NHWC tensor {@code [N, H, W, C]}. */
    public Tensor acquire(int... nhwc) {
        return acquire(Layout.NHWC, nhwc);
    }

    private Tensor bestFit(long numel, Layout layout, int[] shape) {
        Tensor best = null;
        for (Tensor b : free) {
            if (b.numel() >= numel && (best == null || b.numel() < best.numel())) {
                best = b;
            }
        }
        if (best == null) {
            best = backend.allocate(DType.F32, Layout.PLAIN, (int) Math.max(numel, 1));
            blocks.add(best);
            bytes += best.bytes();
        } else {
            free.remove(best);
        }
        Tensor view = best.slice(0, (int) numel).view(layout, shape);
        lent.put(view, best);
        return view;
    }

    /** The next planned tensor, or null (and the plan dropped) when the request differs from it. */
    private Tensor planned(long numel, Layout layout, int[] shape) {
        if (next >= planSizes.length || planSizes[next] != numel) {
            dropPlan();
            return null;
        }
        Tensor view = arena.range(planOffsets[next], layout, shape);
        next++;
        lent.put(view, null);
        return view;
    }

    /** Gives a tensor from {@link #acquire} back; null is ignored. */
    public void release(Tensor t) {
        if (t == null) {
            return;
        }
        if (!lent.containsKey(t)) {
            throw new IllegalArgumentException("ActivationPool.release: " + t.describe() + " is not lent by this pool");
        }
        Tensor block = lent.remove(t);
        if (block != null) {
            free.add(block);
        }
        lentBytes -= t.bytes();
        if (recording) {
            Integer id = recordedIds.remove(t);
            if (id != null) {
                recordedLifetimes.get(id)[1] = events;
            }
            events++;
        }
    }

    /** True when t is a tensor this pool lent and has not got back. */
    public boolean lends(Tensor t) {
        return t != null && lent.containsKey(t);
    }

    // ------------------------------------------------------------------ planning

    /** Starts recording the requests of a pass (served by best fit meanwhile). */
    public void record() {
        recording = true;
        recordedSizes.clear();
        recordedLifetimes.clear();
        recordedIds.clear();
        events = 0;
    }

    /**
     * Ends the recording and lays the recorded requests out in one arena for a pass whose every
     * request is {@code scale} times the recorded one (every tensor must have been released). The
     * best-fit blocks are freed. Returns the arena's size in bytes.
     */
    public long plan(long scale) {
        if (!recording) {
            throw new IllegalStateException("ActivationPool.plan: nothing recorded");
        }
        if (!lent.isEmpty()) {
            throw new IllegalStateException("ActivationPool.plan: " + lent.size() + " tensors still lent");
        }
        recording = false;
        int n = recordedSizes.size();
        long[] sizes = new long[n];
        long[] aligned = new long[n];
        for (int i = 0; i < n; i++) {
            sizes[i] = recordedSizes.get(i) * scale;
            aligned[i] = (sizes[i] + ALIGN - 1) / ALIGN * ALIGN;
        }
        long[] offsets = greedyBySize(aligned, recordedLifetimes);
        long total = 0;
        for (int i = 0; i < n; i++) {
            total = Math.max(total, offsets[i] + aligned[i]);
        }
        freeBlocks();
        // rows of ALIGN floats (total is a multiple of ALIGN): arenas beyond 2^31 floats, e.g. batch 32 at 512x512
        long rows = Math.max(total / ALIGN, 1);
        if (rows > Integer.MAX_VALUE) {
            return 0; // beyond any device: stay with best fit
        }
        arena = backend.allocate(DType.F32, Layout.PLAIN, (int) rows, ALIGN);
        bytes = arena.bytes();
        planSizes = sizes;
        planOffsets = offsets;
        next = 0;
        return bytes;
    }

    /** Starts a pass that follows the plan (if any) from its first request. */
    public void beginPass() {
        next = 0;
    }

    /** True while a plan is in use. */
    public boolean planned() {
        return arena != null;
    }

    /**
     * Offsets for tensors of the given sizes and [first, last) lifetimes: the largest first, each at
     * the lowest offset clear of every placed tensor whose lifetime overlaps (TensorFlow Lite's
     * greedy-by-size arena planner).
     */
    static long[] greedyBySize(long[] sizes, List<long[]> lifetimes) {
        int n = sizes.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> sizes[b] != sizes[a] ? Long.compare(sizes[b], sizes[a]) : Integer.compare(a, b));
        long[] offsets = new long[n];
        List<Integer> placed = new ArrayList<>();
        for (int i : order) {
            long[] li = lifetimes.get(i);
            List<long[]> busy = new ArrayList<>();
            for (int j : placed) {
                long[] lj = lifetimes.get(j);
                if (li[0] < lj[1] && lj[0] < li[1]) {
                    busy.add(new long[] {offsets[j], offsets[j] + sizes[j]});
                }
            }
            busy.sort((a, b) -> Long.compare(a[0], b[0]));
            long off = 0;
            for (long[] r : busy) {
                if (off + sizes[i] <= r[0]) {
                    break;
                }
                off = Math.max(off, r[1]);
            }
            offsets[i] = off;
            placed.add(i);
        }
        return offsets;
    }

    private void dropPlan() {
        if (arena != null && lent.containsValue(null)) {
            // tensors of the plan are still out: keep the arena alive until close(), serve by best fit
            blocks.add(arena);
        } else if (arena != null) {
            bytes -= arena.bytes();
            arena.close();
        }
        arena = null;
        planSizes = null;
        planOffsets = null;
    }

    private void freeBlocks() {
        for (Tensor b : blocks) {
            b.close();
        }
        blocks.clear();
        free.clear();
        bytes = 0;
    }

    // ------------------------------------------------------------------ accounting

    /** Bytes of all blocks and the arena (lent or free). */
    public long bytes() {
        return bytes;
    }

    /**
     * The most bytes ever lent at once (the live set's peak; {@link #bytes()} exceeds it by what
     * the reuse of differently sized blocks wastes).
     */
    public long peakLentBytes() {
        return peakLentBytes;
    }

    /** Tensors acquired and not yet released. */
    public int lent() {
        return lent.size();
    }

    /** Frees every block and the arena; tensors still lent become invalid. */
    @Override
    public void close() {
        freeBlocks();
        if (arena != null) {
            arena.close();
            arena = null;
        }
        planSizes = null;
        planOffsets = null;
        lent.clear();
        recording = false;
        lentBytes = 0;
        peakLentBytes = 0;
    }
}
