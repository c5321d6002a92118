package org.arunet.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The executor plugin frees the executor's models when the executor stops (here: the local context). */
class ExecutorPluginTest {
    @TempDir
    Path dir;

    @Test
    void stoppingTheExecutorClosesItsModels() throws Exception {
        ExecutorModels.closeAll();
        List<String> good = HostileFiles.write(dir, 2);
        SparkSession spark = SparkSession.builder()
                .master("local[2]")
                .appName("ExecutorPluginTest")
                .config("spark.ui.enabled", "false")
                .config("spark.plugins", ArunetSparkPlugin.class.getName())
                .getOrCreate();
        int closedBefore = ExecutorModels.closed();
        try {
            List<String> files =
                    good.stream().map(g -> dir.resolve(g).toUri().toString()).toList();
            long n = ArunetSpark.segment(
                            ArunetSpark.readImages(spark, files),
                            SegmentOptions.of("busi-compact").withDevice("cpu"))
                    .count();
            assertEquals(2, n);
            assertEquals(1, ExecutorModels.open(), "the executor holds its model between tasks");
        } finally {
            spark.stop();
        }
        assertEquals(0, ExecutorModels.open(), "the plugin's shutdown closed the model");
        assertEquals(closedBefore + 1, ExecutorModels.closed());
    }
}
