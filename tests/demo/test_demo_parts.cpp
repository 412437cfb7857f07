// The demo's parts one at a time, in process: queues, the broadcaster, frame conversion,
// detection reports, video sources and their errors, the HTTP servers and theirs.
#if MISHNET_HAVE_OPENCV
#include <atomic>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "demo/bounded_queue.h"
#include "demo/broadcaster.h"
#include "demo/detection_report.h"
#include "demo/frame_pixels.h"
#include "demo/stream_servers.h"
#include "demo/video_source.h"
#include "demo_test_util.h"

namespace mishnet {
namespace {

using namespace mishnet::demo;
using namespace mishnet::test::demo;

TEST(DemoQueue, BlockingQueueDeliversEveryItemInOrder) {
  BoundedQueue<int> q(2, QueuePolicy::block);
  std::thread producer([&] {
    for (int i = 0; i < 200; ++i) q.push(i);
    q.close();
  });
  std::vector<int> got;
  while (auto v = q.pop()) {
    got.push_back(*v);
    if (got.size() % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a slow consumer
  }
  producer.join();
  ASSERT_EQ(got.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(got[size_t(i)], i);
  EXPECT_EQ(q.dropped(), 0u);
}

TEST(DemoQueue, DropOldestKeepsTheFreshestAndCountsTheRest) {
  BoundedQueue<int> q(1, QueuePolicy::drop_oldest);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(q.push(i));  // never blocks
  EXPECT_EQ(q.dropped(), 4u);
  EXPECT_EQ(q.pop().value(), 4);
  q.close();
  EXPECT_FALSE(q.pop().has_value());
  EXPECT_FALSE(q.push(9));
}

TEST(DemoQueue, AbandonWakesABlockedProducer) {
  BoundedQueue<int> q(1, QueuePolicy::block);
  q.push(1);
  std::atomic<bool> pushed{true};
  std::thread producer([&] { pushed = q.push(2); });  // blocks: the queue is full
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.abandon();
  producer.join();
  EXPECT_FALSE(pushed);
  EXPECT_FALSE(q.pop().has_value());
}

TEST(DemoBroadcaster, ASlowReaderSkipsToTheOldestKeptItem) {
  Broadcaster b(3, false);
  uint64_t position = b.join();
  EXPECT_EQ(b.readers(), 1);
  for (int i = 1; i <= 5; ++i) b.publish(std::to_string(i));
  Broadcaster::Item item;
  std::string seen;
  while (b.next(position, item, std::chrono::milliseconds(10)) == Broadcaster::Next::item) seen += *item;
  EXPECT_EQ(seen, "345");
  b.publish("6");
  b.close();
  ASSERT_EQ(b.next(position, item, std::chrono::milliseconds(10)), Broadcaster::Next::item);  // left before closing
  EXPECT_EQ(*item, "6");
  EXPECT_EQ(b.next(position, item, std::chrono::milliseconds(10)), Broadcaster::Next::closed);
  b.leave();
  EXPECT_EQ(b.readers(), 0);
}

TEST(DemoBroadcaster, ANewMjpegReaderStartsWithTheLatestFrame) {
  Broadcaster b(1, true);
  b.publish("a");
  b.publish("b");
  uint64_t position = b.join();
  Broadcaster::Item item;
  ASSERT_EQ(b.next(position, item, std::chrono::milliseconds(10)), Broadcaster::Next::item);
  EXPECT_EQ(*item, "b");
  EXPECT_EQ(b.next(position, item, std::chrono::milliseconds(10)), Broadcaster::Next::timeout);
  Broadcaster empty(1, true);
  EXPECT_FALSE(empty.wait_for_reader([] { return true; }));
}

// Planes of a network input, value at (x, y) of plane k.
float input_at(const std::vector<float>& in, int w, int h, int k, int x, int y) {
  return in[(size_t(k) * size_t(h) + size_t(y)) * size_t(w) + size_t(x)];
}

TEST(DemoFramePixels, StretchIsCvResizeInRgbPlanes) {
  cv::theRNG().state = test::test_seed();
  cv::Mat frame(48, 80, CV_8UC3);
  cv::randu(frame, 0, 256);
  std::vector<float> in(3 * 32 * 32);
  frame_to_input(frame, 32, 32, 3, FrameFit::stretch, in.data());
  cv::Mat expected;
  cv::resize(frame, expected, cv::Size(32, 32), 0, 0, cv::INTER_LINEAR);
  for (int y = 0; y < 32; y += 5)
    for (int x = 0; x < 32; x += 3) {
      const cv::Vec3b bgr = expected.at<cv::Vec3b>(y, x);
      // Exact: the same bytes divided by 255.
      EXPECT_FLOAT_EQ(input_at(in, 32, 32, 0, x, y), float(bgr[2]) / 255.0f);
      EXPECT_FLOAT_EQ(input_at(in, 32, 32, 1, x, y), float(bgr[1]) / 255.0f);
      EXPECT_FLOAT_EQ(input_at(in, 32, 32, 2, x, y), float(bgr[0]) / 255.0f);
    }
  std::vector<float> grey(32 * 32);
  frame_to_input(frame, 32, 32, 1, FrameFit::stretch, grey.data());
  cv::Mat g, gs;
  cv::cvtColor(frame, g, cv::COLOR_BGR2GRAY);
  cv::resize(g, gs, cv::Size(32, 32), 0, 0, cv::INTER_LINEAR);
  EXPECT_FLOAT_EQ(grey[17 * 32 + 9], float(gs.at<uint8_t>(17, 9)) / 255.0f);
}

TEST(DemoFramePixels, LetterboxPadsWithHalfWhereStillImagesAre) {
  cv::Mat frame(50, 100, CV_8UC3, cv::Scalar(10, 20, 30));
  std::vector<float> in(3 * 64 * 64);
  frame_to_input(frame, 64, 64, 3, FrameFit::letterbox, in.data());
  const LetterboxPlacement p = letterbox_placement(100, 50, 64, 64);
  ASSERT_EQ(p.new_h, 32);
  ASSERT_EQ(p.dy, 16);
  for (int k = 0; k < 3; ++k) {
    EXPECT_FLOAT_EQ(input_at(in, 64, 64, k, 5, p.dy - 1), 0.5f);
    EXPECT_FLOAT_EQ(input_at(in, 64, 64, k, 5, p.dy + p.new_h), 0.5f);
  }
  EXPECT_FLOAT_EQ(input_at(in, 64, 64, 0, 5, p.dy), 30.0f / 255.0f);  // red plane first
  EXPECT_FLOAT_EQ(input_at(in, 64, 64, 2, 60, p.dy + p.new_h - 1), 10.0f / 255.0f);
}

TEST(DemoFramePixels, CentreCropTakesTheMiddleOfTheShorterSideResize) {
  // 128x64 -> shorter side 32 -> 64x32 -> the centre 32x32 is columns 16..47 of that.
  cv::Mat frame(64, 128, CV_8UC3);
  for (int x = 0; x < 128; ++x) frame.col(x).setTo(cv::Scalar(x * 2, 0, 0));
  std::vector<float> in(3 * 32 * 32);
  frame_to_input(frame, 32, 32, 3, FrameFit::centre_crop, in.data());
  cv::Mat half;
  cv::resize(frame, half, cv::Size(64, 32), 0, 0, cv::INTER_LINEAR);
  for (int x = 0; x < 32; x += 7)
    EXPECT_FLOAT_EQ(input_at(in, 32, 32, 2, x, 10), float(half.at<cv::Vec3b>(10, x + 16)[0]) / 255.0f) << x;
}

Detection make_detection(Box box, std::vector<float> prob) {
  Detection d;
  d.box = box;
  d.objectness = 1;
  d.classes = int(prob.size());
  d.prob = std::move(prob);
  return d;
}

TEST(DemoDetectionReport, ReportsAsDetectorTestDoes) {
  const std::vector<std::string> names = {"cat", "dog", "dont_show_me"};
  std::vector<Detection> dets = {make_detection({0.5f, 0.5f, 0.5f, 0.5f}, {0.9647f, 0.0179f, 0.9f}),
                                 make_detection({0.2f, 0.3f, 0.2f, 0.2f}, {0.0f, 0.5f, 0.0f})};
  const auto shown = shown_detections(dets, names, 0.25f);
  ASSERT_EQ(shown.size(), 2u);
  EXPECT_EQ(shown[0].best_class, 1);  // sorted by left edge
  EXPECT_EQ(detection_lines(shown, names, 0.25f, true, 64, 48),
            "dog: 50%\t(left_x:    6   top_y:   10   width:   13   height:   10)\n"
            "cat: 96%\t(left_x:   16   top_y:   12   width:   32   height:   24)\n");
  const auto boxes = labelled_boxes(shown, names, 0.25f, 64, 48);
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_EQ(boxes[1].label, "cat (96%)");  // the most likely drawn last
  EXPECT_EQ(boxes[1].left, 16);
  EXPECT_EQ(boxes[1].bottom, 36);
  // Darknet's JSON, and the same on one line for the stream.
  const std::string json = detections_json({dets[0]}, names, 1, "a.png", false);
  EXPECT_EQ(json,
            "{\n \"frame_id\":1, \n \"filename\":\"a.png\", \n \"objects\": [ \n"
            "  {\"class_id\":0, \"name\":\"cat\", \"relative_coordinates\":{\"center_x\":0.500000, "
            "\"center_y\":0.500000, \"width\":0.500000, \"height\":0.500000}, \"confidence\":0.964700}, \n"
            "  {\"class_id\":1, \"name\":\"dog\", \"relative_coordinates\":{\"center_x\":0.500000, "
            "\"center_y\":0.500000, \"width\":0.500000, \"height\":0.500000}, \"confidence\":0.017900}\n ] \n}");
  const std::string line = detections_json({dets[0]}, names, 7, "cam \"0\"", true);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind("{\"frame_id\":7, \"filename\":\"cam \\\"0\\\"\", \"objects\": [{\"class_id\":0", 0), 0u)
      << line;
  EXPECT_TRUE(line.ends_with("\"confidence\":0.017900}]}")) << line;
}

TEST(DemoVideoSource, OpensAVideoFileAndReadsEveryFrame) {
  MISHNET_REQUIRE_FASHION_MNIST();
  const std::string dir = test::scratch_dir("demo_source_file");
  write_scene_video(dir + "/scenes.avi", 7, 96, 64);
  VideoSource s = VideoSource::open(SourceSpec::from_arguments(-1, dir + "/scenes.avi"));
  EXPECT_FALSE(s.live());
  EXPECT_EQ(s.width(), 96);
  EXPECT_EQ(s.height(), 64);
  EXPECT_EQ(s.frame_count(), 7);
  EXPECT_NEAR(s.fps(), 10.0, 0.01);
  cv::Mat frame;
  int n = 0;
  while (s.read(frame)) {
    EXPECT_EQ(frame.type(), CV_8UC3);
    ++n;
  }
  EXPECT_EQ(n, 7);
}

TEST(DemoVideoSource, ErrorsSayWhatWasTried) {
  const std::string dir = test::scratch_dir("demo_source_errors");
  EXPECT_ERROR_CONTAINS(VideoSource::open(SourceSpec::from_arguments(-1, dir + "/nope.mp4")), "nope.mp4: no such file");
  std::ofstream(dir + "/text.mp4") << "not a video at all\n";
  EXPECT_ERROR_CONTAINS(VideoSource::open(SourceSpec::from_arguments(-1, dir + "/text.mp4")),
                        "text.mp4: cannot read it as a video");
  EXPECT_ERROR_CONTAINS(VideoSource::open(SourceSpec::from_arguments(-1, dir)), "is a directory");
  if (!std::filesystem::exists("/dev/video57")) {
    try {
      VideoSource::open(SourceSpec::from_arguments(57, ""));
      ADD_FAILURE() << "camera 57 opened";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("camera 57: cannot open it; tried /dev/video57 with V4L2 (no such device), index 57"),
                std::string::npos)
          << m;
      EXPECT_NE(m.find("video devices here: "), std::string::npos) << m;
    }
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/stream.mjpg";
  EXPECT_ERROR_CONTAINS(VideoSource::open(SourceSpec::from_arguments(-1, url)), url + ": unreachable: ");
  EXPECT_ERROR_CONTAINS(SourceSpec::from_arguments(2, "clip.mp4"), "not both");
}

#define MISHNET_REQUIRE_HTTP()                                                             \
  do {                                                                                     \
    if (!http_servers_available()) GTEST_SKIP() << "built without cpp-httplib";            \
  } while (0)

TEST(DemoServers, APortInUseIsReported) {
  MISHNET_REQUIRE_HTTP();
  Listener taken;
  EXPECT_ERROR_CONTAINS(MjpegServer("127.0.0.1", taken.port()),
                        "-mjpeg_port: port " + std::to_string(taken.port()) + " on 127.0.0.1 is already in use");
  // Also when the holder is another of our servers (httplib's SO_REUSEPORT would let it share).
  JsonServer first("127.0.0.1", 0);
  EXPECT_ERROR_CONTAINS(JsonServer("127.0.0.1", first.port()), "is already in use");
  EXPECT_ERROR_CONTAINS(JsonServer("127.0.0.1", 70000), "not a port number");
  // 192.0.2.1 (TEST-NET-1) is nobody's address here: binding fails without any traffic.
  EXPECT_ERROR_CONTAINS(JsonServer("192.0.2.1", 0), "cannot listen on 192.0.2.1: not an address of this machine");
}

TEST(DemoServers, JsonStreamDeliversEachObjectOnItsOwnLineThenEnds) {
  MISHNET_REQUIRE_HTTP();
  JsonServer server("127.0.0.1", 0);
  HttpClient client(server.port(), "/");
  ASSERT_TRUE(client.connected());
  const Clock::time_point give_up = deadline_after(20);
  ASSERT_TRUE(server.wait_for_reader([&] { return Clock::now() > give_up; }));
  for (int i = 1; i <= 3; ++i) server.publish("{\"frame_id\":" + std::to_string(i) + "}");
  server.close();
  ASSERT_TRUE(client.read_all(20));
  EXPECT_NE(client.head().find("Content-Type: application/x-ndjson"), std::string::npos) << client.head();
  EXPECT_EQ(client.body(), "{\"frame_id\":1}\n{\"frame_id\":2}\n{\"frame_id\":3}\n");
}

TEST(DemoServers, MjpegServerServesFramesPageAndStats) {
  MISHNET_REQUIRE_HTTP();
  MjpegServer server("127.0.0.1", 0);
  EXPECT_NE(http_get(server.port(), "/frame.jpg").find("HTTP/1.1 503"), std::string::npos);
  std::vector<unsigned char> jpeg;
  cv::imencode(".jpg", cv::Mat(24, 32, CV_8UC3, cv::Scalar(0, 128, 255)), jpeg);
  server.publish_jpeg(std::string(jpeg.begin(), jpeg.end()));
  server.set_stats({12.5, 11.0, 80, 42, 3});
  const std::string frame = http_get(server.port(), "/frame.jpg");
  EXPECT_NE(frame.find("Content-Type: image/jpeg"), std::string::npos);
  EXPECT_TRUE(frame.ends_with(std::string(jpeg.begin(), jpeg.end())));
  const std::string stats = http_get(server.port(), "/stats");
  EXPECT_NE(stats.find("{\"fps\":12.50, \"avg_fps\":11.00, \"frames\":42, \"dropped\":3, \"latency_ms\":80.0}"),
            std::string::npos)
      << stats;
  const std::string page = http_get(server.port(), "/");
  EXPECT_NE(page.find("<img id=\"stream\" src=\"/stream.mjpg\""), std::string::npos);
  EXPECT_NE(http_get(server.port(), "/nothing-here").find("HTTP/1.1 404"), std::string::npos);
  server.close();
}

}  // namespace
}  // namespace mishnet
#endif
