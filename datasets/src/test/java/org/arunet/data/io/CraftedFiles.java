package org.arunet.data.io;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/** Hand-built file headers: valid structure, absurd or zero dimensions. */
final class CraftedFiles {
    private CraftedFiles() {}

    /** A structurally valid PNG (correct CRCs, real zlib data for one row) declaring {@code w x h}. */
    static byte[] png(long w, long h) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
        ByteBuffer ihdr = ByteBuffer.allocate(13);
        ihdr.putInt((int) w)
                .putInt((int) h)
                .put((byte) 8)
                .put((byte) 0)
                .put((byte) 0)
                .put((byte) 0)
                .put((byte) 0);
        chunk(out, "IHDR", ihdr.array());
        Deflater d = new Deflater();
        d.setInput(new byte[1 + 64]);
        d.finish();
        byte[] z = new byte[256];
        int n = d.deflate(z);
        byte[] idat = new byte[n];
        System.arraycopy(z, 0, idat, 0, n);
        chunk(out, "IDAT", idat);
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    /** A baseline JPEG skeleton (SOF0, SOS, a few scan bytes, EOI) declaring {@code w x h}. */
    static byte[] jpeg(int w, int h) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0xFF, (byte) 0xD8});
        out.writeBytes(new byte[] {
            (byte) 0xFF, (byte) 0xC0, 0, 11, 8, (byte) (h >> 8), (byte) h, (byte) (w >> 8), (byte) w, 1, 1, 0x11, 0
        });
        out.writeBytes(new byte[] {(byte) 0xFF, (byte) 0xDA, 0, 8, 1, 1, 0, 0, 63, 0});
        out.writeBytes(new byte[] {0x12, 0x34, 0x56, 0x78});
        out.writeBytes(new byte[] {(byte) 0xFF, (byte) 0xD9});
        return out.toByteArray();
    }

    /** A 24-bit BMP header declaring {@code w x h} followed by only 16 bytes of pixels. */
    static byte[] bmp(int w, int h) {
        ByteBuffer b = ByteBuffer.allocate(54 + 16).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 'B').put((byte) 'M').putInt(54 + 16).putInt(0).putInt(54);
        b.putInt(40)
                .putInt(w)
                .putInt(h)
                .putShort((short) 1)
                .putShort((short) 24)
                .putInt(0)
                .putInt(16)
                .putInt(2835)
                .putInt(2835)
                .putInt(0)
                .putInt(0);
        return b.array();
    }

    /** A little-endian TIFF whose first IFD declares {@code w x h}, 8-bit grey, with no strips. */
    static byte[] tiff(int w, int h) {
        ByteBuffer b = ByteBuffer.allocate(8 + 2 + 3 * 12 + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 'I').put((byte) 'I').putShort((short) 42).putInt(8);
        b.putShort((short) 3);
        b.putShort((short) 256).putShort((short) 4).putInt(1).putInt(w);
        b.putShort((short) 257).putShort((short) 4).putInt(1).putInt(h);
        b.putShort((short) 258)
                .putShort((short) 3)
                .putInt(1)
                .putShort((short) 8)
                .putShort((short) 0);
        b.putInt(0);
        return b.array();
    }
}
