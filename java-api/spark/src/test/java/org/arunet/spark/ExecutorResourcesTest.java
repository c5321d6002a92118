package org.arunet.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** Cores, task slots and the task's GPU, from Spark's settings (no Spark context needed). */
class ExecutorResourcesTest {
    static SparkConf conf(String... kv) {
        SparkConf c = new SparkConf(false);
        for (int i = 0; i < kv.length; i += 2) {
            c.set(kv[i], kv[i + 1]);
        }
        return c;
    }

    @Test
    void coresAndSlotsFollowTheMasterAndTheSettings() {
        assertEquals(2, ExecutorResources.executorCores(conf("spark.master", "local[2]"), 16));
        assertEquals(16, ExecutorResources.executorCores(conf("spark.master", "local[*]"), 16));
        assertEquals(3, ExecutorResources.executorCores(conf("spark.master", "local[3,2]"), 16));
        assertEquals(1, ExecutorResources.executorCores(conf("spark.master", "local"), 16));
        assertEquals(4, ExecutorResources.executorCores(conf("spark.master", "local-cluster[2, 4, 1024]"), 16));
        assertEquals(1, ExecutorResources.executorCores(conf("spark.master", "yarn"), 16));
        assertEquals(16, ExecutorResources.executorCores(conf("spark.master", "spark://host:7077"), 16));
        assertEquals(
                8,
                ExecutorResources.executorCores(
                        conf("spark.master", "k8s://https://api:6443", "spark.executor.cores", "8"), 16));
        assertEquals(4, ExecutorResources.taskSlots(conf("spark.executor.cores", "8", "spark.task.cpus", "2"), 16));
        assertEquals(1, ExecutorResources.taskSlots(conf("spark.executor.cores", "1", "spark.task.cpus", "2"), 16));
    }

    @Test
    void aTaskWithAGpuRunsOnItAndOnlyWhenItIsTheFirstTheExecutorSees() {
        assertEquals("auto", ExecutorResources.deviceFor("auto", null, null));
        assertEquals("cpu", ExecutorResources.deviceFor("cpu", new String[] {"0"}, null));
        assertEquals("cuda", ExecutorResources.deviceFor("auto", new String[] {"0"}, null));
        assertEquals("cuda:bf16", ExecutorResources.deviceFor("cuda:bf16", new String[] {"0"}, null));
        assertEquals("cuda", ExecutorResources.deviceFor("auto", new String[] {"3"}, "3"));
        IllegalStateException e = assertThrows(
                IllegalStateException.class, () -> ExecutorResources.deviceFor("auto", new String[] {"1"}, null));
        assertTrue(e.getMessage().contains("GPU 1") && e.getMessage().contains("unset"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> ExecutorResources.deviceFor("auto", new String[] {"1"}, "0,1"));
        e = assertThrows(
                IllegalStateException.class, () -> ExecutorResources.deviceFor("auto", new String[] {"0", "1"}, null));
        assertTrue(e.getMessage().contains("2 GPUs"), e.getMessage());
    }

    @Test
    void optionsRefuseBadValuesNamingThem() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> SegmentOptions.of("busi-compact")
                        .withDevice("tpu"));
        assertTrue(e.getMessage().contains("tpu"));
        e = assertThrows(IllegalArgumentException.class, () -> SegmentOptions.of("busi-compact")
                .withBatchSize(0));
        assertTrue(e.getMessage().contains("batchSize"));
        assertThrows(IllegalArgumentException.class, () -> SegmentOptions.of(" "));
        assertThrows(
                IllegalArgumentException.class, () -> SegmentOptions.of("m").withReplicas(-1));
    }

    @Test
    void maskNamesAreThoseOfPredict() {
        assertEquals("a.png", MaskFiles.maskName("file:/data/x/a.png", 0));
        assertEquals("IM0001.png", MaskFiles.maskName("hdfs://nn:8020/pacs/IM0001", 0));
        assertEquals("cine_frames/frame_0002.png", MaskFiles.maskName("file:/d/cine.dcm", 2));
        assertEquals(java.nio.file.Path.of("/data/x/a b.png"), ImageSegmenter.localName("file:/data/x/a%20b.png"));
    }
}
