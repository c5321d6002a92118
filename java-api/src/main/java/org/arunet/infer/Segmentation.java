package org.arunet.infer;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalDouble;
import javax.imageio.ImageIO;
import org.arunet.data.io.PixelSpacing;

/**
 * One image's segmentation at the image's own size.
 *
 * @param source where the image came from (file path or "memory")
 * @param width image width
 * @param height image height
 * @param classes classes of the model (2 = background, lesion)
 * @param mask class index of every pixel, row-major ({@code height x width})
 * @param lesionProbability probability that each pixel is lesion (1 - p(background)), row-major
 * @param spacing the physical size of a pixel where the image file states one (DICOM Pixel Spacing or
 *     ultrasound regions), else null: areas and boxes in millimetres are then unknown, never guessed
 */
public record Segmentation(
        String source,
        int width,
        int height,
        int classes,
        byte[] mask,
        float[] lesionProbability,
        PixelSpacing spacing) {

    /** A segmentation of an image without a known pixel spacing. */
    public Segmentation(String source, int width, int height, int classes, byte[] mask, float[] lesionProbability) {
        this(source, width, height, classes, mask, lesionProbability, null);
    }

    /** This segmentation with the pixel spacing of its image (null: unknown). */
    public Segmentation withSpacing(PixelSpacing s) {
        return new Segmentation(source, width, height, classes, mask, lesionProbability, s);
    }

    /** Lesion area in mm² ({@link #lesionPixels()} times the pixel area); empty when the spacing is unknown. */
    public OptionalDouble lesionAreaMm2() {
        return spacing == null ? OptionalDouble.empty() : OptionalDouble.of(lesionPixels() * spacing.pixelAreaMm2());
    }

    /**
     * {@link #boundingBox()} in millimetres, {@code {x, y, width, height}} (x and y of the box's top-left
     * pixel edge from the image's); null when there is no lesion or the spacing is unknown.
     */
    public double[] boundingBoxMm() {
        int[] b = boundingBox();
        if (b == null || spacing == null) {
            return null;
        }
        return new double[] {
            b[0] * spacing.columnMm(), b[1] * spacing.rowMm(), b[2] * spacing.columnMm(), b[3] * spacing.rowMm()
        };
    }

    /** Pixels predicted as lesion (any class above 0). */
    public long lesionPixels() {
        long n = 0;
        for (byte b : mask) {
            if (b != 0) {
                n++;
            }
        }
        return n;
    }

    /** Lesion area as a fraction of the image. */
    public double lesionFraction() {
        return (double) lesionPixels() / ((long) width * height);
    }

    /** {@code {x, y, width, height}} of the lesion pixels, or null when there are none. */
    public int[] boundingBox() {
        int x0 = width;
        int y0 = height;
        int x1 = -1;
        int y1 = -1;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                if (mask[y * width + x] != 0) {
                    x0 = Math.min(x0, x);
                    y0 = Math.min(y0, y);
                    x1 = Math.max(x1, x);
                    y1 = Math.max(y1, y);
                }
            }
        }
        return x1 < 0 ? null : new int[] {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
    }

    /** Mean lesion probability over the pixels predicted as lesion (NaN when there are none). */
    public double meanLesionProbability() {
        double s = 0;
        long n = 0;
        for (int i = 0; i < mask.length; i++) {
            if (mask[i] != 0) {
                s += lesionProbability[i];
                n++;
            }
        }
        return n == 0 ? Double.NaN : s / n;
    }

    /** Class indices as int (for metrics). */
    public int[] classMap() {
        int[] out = new int[mask.length];
        for (int i = 0; i < mask.length; i++) {
            out[i] = mask[i] & 0xFF;
        }
        return out;
    }

    /**
     * The mask as an 8-bit grey image: 0 / 255 for two classes (viewable), the class index otherwise.
     */
    public BufferedImage maskImage() {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
        byte[] px = ((java.awt.image.DataBufferByte) img.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < mask.length; i++) {
            px[i] = classes == 2 ? (byte) (mask[i] != 0 ? 255 : 0) : mask[i];
        }
        return img;
    }

    /** Writes {@link #maskImage()} as PNG (parent folders created). */
    public void writeMask(Path png) throws IOException {
        Path parent = png.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        if (!ImageIO.write(maskImage(), "png", png.toFile())) {
            throw new IOException(png + ": no PNG writer available");
        }
    }
}
