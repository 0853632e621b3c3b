package dev.tally.server.loadgen;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/** A PNG of p50 and p99 step latency per second of the run (headless AWT, no extra library). */
final class LatencyChart {
  private static final int W = 900;
  private static final int H = 420;
  private static final int LEFT = 70;
  private static final int RIGHT = 20;
  private static final int TOP = 40;
  private static final int BOTTOM = 50;

  private LatencyChart() {}

  static void write(BenchResult result, Path file, String title) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<BenchResult.Interval> points = result.timeline();
    BufferedImage image = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, W, H);
    double maxT = points.isEmpty() ? 1 : points.get(points.size() - 1).atSeconds();
    double maxY = 1;
    for (BenchResult.Interval p : points) {
      maxY = Math.max(maxY, p.p99Millis() * 1.1);
    }
    g.setColor(Color.LIGHT_GRAY);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    for (int i = 0; i <= 5; i++) {
      int y = TOP + (H - TOP - BOTTOM) * i / 5;
      g.drawLine(LEFT, y, W - RIGHT, y);
      g.setColor(Color.DARK_GRAY);
      g.drawString(String.format("%.1f ms", maxY * (5 - i) / 5), 5, y + 4);
      g.setColor(Color.LIGHT_GRAY);
    }
    g.setColor(Color.DARK_GRAY);
    g.drawString(String.format("seconds (0 to %.0f)", maxT), W / 2 - 40, H - 15);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
    g.drawString(title, LEFT, 25);
    line(g, points, maxT, maxY, true, new Color(0x1f77b4));
    line(g, points, maxT, maxY, false, new Color(0xd62728));
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    g.setColor(new Color(0x1f77b4));
    g.drawString("p50", W - RIGHT - 80, TOP + 15);
    g.setColor(new Color(0xd62728));
    g.drawString("p99", W - RIGHT - 40, TOP + 15);
    g.dispose();
    ImageIO.write(image, "png", file.toFile());
  }

  private static void line(Graphics2D g, List<BenchResult.Interval> points, double maxT,
      double maxY, boolean p50, Color color) {
    g.setColor(color);
    g.setStroke(new BasicStroke(2f));
    int px = -1;
    int py = -1;
    for (BenchResult.Interval p : points) {
      int x = LEFT + (int) ((W - LEFT - RIGHT) * p.atSeconds() / maxT);
      double v = p50 ? p.p50Millis() : p.p99Millis();
      int y = TOP + (int) ((H - TOP - BOTTOM) * (1 - v / maxY));
      if (px >= 0) {
        g.drawLine(px, py, x, y);
      }
      px = x;
      py = y;
    }
  }
}
