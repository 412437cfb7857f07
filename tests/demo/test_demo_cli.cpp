// `mishnet detector demo` and `mishnet classifier demo` end to end, on short videos of
// Fashion-MNIST scenes: every frame out for a file, each frame's results on the JSON stream (the
// same as the library gives for that frame), JPEG frames on the MJPEG stream, a clean stop on
// Ctrl-C, and one-line errors.
#if MISHNET_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>

#include "demo/detector_frames.h"
#include "demo/stream_servers.h"
#include "demo_test_util.h"

namespace mishnet {
namespace {

using namespace mishnet::test::demo;

#define MISHNET_REQUIRE_HTTP()                                                          \
  do {                                                                                  \
    if (!::mishnet::demo::http_servers_available()) GTEST_SKIP() << "built without cpp-httplib"; \
  } while (0)

int port_from(DemoProcess& p, const std::string& what) {
  const std::string port = p.wait_for(std::regex(what + ": http://127\\.0\\.0\\.1:([0-9]+)/"));
  return port.empty() ? -1 : std::stoi(port);
}

// What `detector demo` should say about each frame: the library run on the same decoded frames.
std::vector<std::string> expected_detector_json(const ModelFiles& m, const std::string& video, float thresh) {
  Network net = Network::from_cfg_file(m.cfg);
  load_weights(net, m.weights);
  demo::DetectorFrameOptions options;
  options.thresh = thresh;
  options.source_name = video;
  demo::DetectorFrames model(std::move(net), fashion_names(), m.names, options);
  std::vector<std::string> out;
  long long id = 0;
  for (const cv::Mat& frame : read_video(video)) {
    std::vector<float> input(model.input_floats());
    model.preprocess(frame, input.data());
    out.push_back(model.infer(input.data(), frame.cols, frame.rows, ++id, {false, false, true}).json);
  }
  return out;
}

// Tolerance 1e-4 on every value: the demo runs with one OpenMP thread, the test with its own
// count; oneDNN may sum in another order, the 6 printed digits of a box or score may differ.
void expect_same_json(const std::string& got, const std::string& want, size_t frame) {
  const std::vector<double> a = json_numbers(got), b = json_numbers(want);
  ASSERT_EQ(a.size(), b.size()) << "frame " << frame << "\ngot:  " << got.substr(0, 300) << "\nwant: "
                                << want.substr(0, 300);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4) << "frame " << frame << " value " << i;
}

TEST(DemoCli, DetectorOnAFileKeepsEveryFrameAndStreamsEachOnesDetections) {
  MISHNET_REQUIRE_FASHION_MNIST();
  MISHNET_REQUIRE_HTTP();
  const std::string dir = test::scratch_dir("demo_cli_detector");
  ModelFiles m = write_model(dir, kTinyYoloCfg);
  const std::string video = dir + "/scenes.avi";
  write_scene_video(video, 12, 160, 120);

  DemoProcess p({"detector", "demo", m.data, m.cfg, m.weights, video, "-dont_show", "-out_filename",
                 dir + "/out.avi", "-json_port", "0", "-wait_for_client", "-thresh", "0.1"});
  ASSERT_TRUE(p.started());
  const int port = port_from(p, "JSON stream");
  ASSERT_GT(port, 0) << p.out() << p.err();
  HttpClient client(port, "/");
  ASSERT_TRUE(client.connected());
  EXPECT_TRUE(client.read_all(60)) << "the stream did not end";
  ASSERT_EQ(p.wait_exit(60), 0) << p.out() << p.err();
  EXPECT_NE(p.out().find("Done (end of stream): 12 frames"), std::string::npos) << p.out();
  EXPECT_NE(p.out().find("Wrote 12 frames to " + dir + "/out.avi"), std::string::npos) << p.out();
  EXPECT_EQ(p.err(), "");

  const std::vector<std::string> lines = lines_of(client.body());
  const std::vector<std::string> want = expected_detector_json(m, video, 0.1f);
  ASSERT_EQ(want.size(), 12u);
  ASSERT_EQ(lines.size(), 12u) << client.body().substr(0, 300);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].rfind("{\"frame_id\":" + std::to_string(i + 1) + ", \"filename\":\"" + video + "\"", 0), 0u)
        << lines[i].substr(0, 200);
    EXPECT_NE(lines[i].find("\"relative_coordinates\""), std::string::npos) << "no detection in frame " << i + 1;
    expect_same_json(lines[i], want[i], i + 1);
  }

  const std::vector<cv::Mat> out = read_video(dir + "/out.avi");
  ASSERT_EQ(out.size(), 12u);
  for (const cv::Mat& f : out) {
    EXPECT_EQ(f.cols, 160);
    EXPECT_EQ(f.rows, 120);
  }
}

// Splits a multipart/x-mixed-replace body into its parts' bodies.
std::vector<std::string> multipart_parts(const std::string& head, const std::string& body) {
  std::smatch m;
  std::vector<std::string> parts;
  if (!std::regex_search(head, m, std::regex("Content-Type: multipart/x-mixed-replace; boundary=([^\r\n]+)")))
    return parts;
  const std::string boundary = "--" + m[1].str() + "\r\n";
  size_t at = 0;
  while ((at = body.find(boundary, at)) != std::string::npos) {
    const size_t headers_end = body.find("\r\n\r\n", at);
    if (headers_end == std::string::npos) break;
    const std::string headers = body.substr(at, headers_end - at);
    std::smatch len;
    if (!std::regex_search(headers, len, std::regex("Content-Length: ([0-9]+)"))) break;
    const size_t n = std::stoul(len[1].str());
    if (headers_end + 4 + n > body.size()) break;  // cut short
    parts.push_back(body.substr(headers_end + 4, n));
    at = headers_end + 4 + n;
  }
  return parts;
}

TEST(DemoCli, MjpegStreamCarriesJpegFramesAndThePageShowsIt) {
  MISHNET_REQUIRE_FASHION_MNIST();
  MISHNET_REQUIRE_HTTP();
  const std::string dir = test::scratch_dir("demo_cli_mjpeg");
  ModelFiles m = write_model(dir, kTinyYoloCfg);
  const std::string video = dir + "/scenes.avi";
  write_scene_video(video, 10, 160, 120);

  DemoProcess p({"detector", "demo", m.data, m.cfg, m.weights, video, "-dont_show", "-mjpeg_port", "0",
                 "-wait_for_client"});
  const int port = port_from(p, "MJPEG stream");
  ASSERT_GT(port, 0) << p.out() << p.err();
  // While it waits for a stream client, the page and the stats are already served.
  const std::string page = http_get(port, "/");
  EXPECT_EQ(page.rfind("HTTP/1.1 200", 0), 0u) << page;
  EXPECT_NE(page.find("Content-Type: text/html"), std::string::npos);
  EXPECT_NE(page.find("src=\"/stream.mjpg\""), std::string::npos);
  EXPECT_NE(http_get(port, "/stats").find("\"fps\":"), std::string::npos);

  HttpClient stream(port, "/stream.mjpg");
  ASSERT_TRUE(stream.connected());
  EXPECT_TRUE(stream.read_all(60));
  ASSERT_EQ(p.wait_exit(60), 0) << p.out() << p.err();
  // A slow reader skips frames (it always gets the latest), so at least one, at most all.
  const std::vector<std::string> parts = multipart_parts(stream.head(), stream.body());
  ASSERT_GE(parts.size(), 1u) << stream.head();
  EXPECT_LE(parts.size(), 10u);
  for (const std::string& jpeg : parts) {
    ASSERT_GE(jpeg.size(), 4u);
    EXPECT_EQ(uint8_t(jpeg[0]), 0xFF);
    EXPECT_EQ(uint8_t(jpeg[1]), 0xD8);  // SOI
    EXPECT_EQ(uint8_t(jpeg[jpeg.size() - 2]), 0xFF);
    EXPECT_EQ(uint8_t(jpeg.back()), 0xD9);  // EOI
    cv::Mat decoded = cv::imdecode(std::vector<uint8_t>(jpeg.begin(), jpeg.end()), cv::IMREAD_COLOR);
    ASSERT_FALSE(decoded.empty());
    EXPECT_EQ(decoded.cols, 160);
    EXPECT_EQ(decoded.rows, 120);
  }
}

TEST(DemoCli, ClassifierStreamsTopClassesAndWritesAnMp4) {
  MISHNET_REQUIRE_FASHION_MNIST();
  MISHNET_REQUIRE_HTTP();
  const std::string dir = test::scratch_dir("demo_cli_classifier");
  ModelFiles m = write_model(dir, kTinyClassifierCfg);
  const std::string video = dir + "/scenes.avi";
  write_scene_video(video, 9, 128, 96);

  DemoProcess p({"classifier", "demo", m.data, m.cfg, m.weights, video, "-dont_show", "-top", "3", "-json_port",
                 "0", "-wait_for_client", "-out_filename", dir + "/out.mp4"});
  const int port = port_from(p, "JSON stream");
  ASSERT_GT(port, 0) << p.out() << p.err();
  HttpClient client(port, "/");
  EXPECT_TRUE(client.read_all(60));
  ASSERT_EQ(p.wait_exit(60), 0) << p.out() << p.err();
  const std::vector<std::string> lines = lines_of(client.body());
  ASSERT_EQ(lines.size(), 9u) << client.body().substr(0, 300);
  const std::regex prediction("\\{\"class_id\":[0-9], \"name\":\"[^\"]+\", \"confidence\":[0-9.]+\\}");
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].rfind("{\"frame_id\":" + std::to_string(i + 1) + ", ", 0), 0u) << lines[i];
    const auto n = std::distance(std::sregex_iterator(lines[i].begin(), lines[i].end(), prediction),
                                 std::sregex_iterator());
    EXPECT_EQ(n, 3) << lines[i];
  }
  // Printed as `classifier predict` prints.
  EXPECT_TRUE(std::regex_search(p.out(), std::regex("\n[ 0-9]{2}\\.[0-9]{2}%: (T-shirt/top|Trouser|Pullover|Dress|"
                                                    "Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)\n")))
      << p.out();
  const std::vector<cv::Mat> out = read_video(dir + "/out.mp4");
  ASSERT_EQ(out.size(), 9u);
  EXPECT_EQ(out[0].cols, 128);
  EXPECT_EQ(out[0].rows, 96);
}

TEST(DemoCli, CtrlCStopsCleanlyAndTheVideoIsComplete) {
  MISHNET_REQUIRE_FASHION_MNIST();
  MISHNET_REQUIRE_HTTP();
  const std::string dir = test::scratch_dir("demo_cli_interrupt");
  ModelFiles m = write_model(dir, kTinyYoloCfg);
  const std::string video = dir + "/long.avi";
  write_scene_video(video, 400, 64, 48);

  DemoProcess p({"detector", "demo", m.data, m.cfg, m.weights, video, "-dont_show", "-json_port", "0",
                 "-wait_for_client", "-out_filename", dir + "/out.mp4"});
  const int port = port_from(p, "JSON stream");
  ASSERT_GT(port, 0) << p.out() << p.err();
  HttpClient client(port, "/");
  client.read_all(60, [](const std::string& data) { return std::count(data.begin(), data.end(), '\n') >= 8; });
  kill(p.pid(), SIGINT);
  EXPECT_TRUE(client.read_all(60));
  ASSERT_EQ(p.wait_exit(60), 0) << p.out() << p.err();
  const size_t frames_streamed = lines_of(client.body()).size();

  std::smatch written;
  const std::string out = p.out();
  ASSERT_TRUE(std::regex_search(out, written, std::regex("Wrote ([0-9]+) frames to"))) << out;
  const size_t frames_written = std::stoul(written[1].str());
  if (frames_written < 400) {
    EXPECT_NE(out.find("Done (interrupted)"), std::string::npos) << out;
  } else {
    std::printf("note: all 400 frames were done before Ctrl-C arrived\n");
  }
  EXPECT_EQ(frames_streamed, frames_written);
  // The .mp4 is finished (its index written), so every frame written plays back.
  EXPECT_EQ(read_video(dir + "/out.mp4").size(), frames_written);
}

// A stream URL is a live source: one demo reads another's MJPEG stream, faster than it can
// process it, so it keeps up by dropping stale frames, and ends when the stream ends.
TEST(DemoCli, AStreamUrlIsALiveSourceThatDropsStaleFrames) {
  MISHNET_REQUIRE_FASHION_MNIST();
  MISHNET_REQUIRE_HTTP();
  const std::string dir = test::scratch_dir("demo_cli_url");
  ModelFiles m = write_model(dir, kTinyYoloCfg);
  const std::string video = dir + "/scenes.avi";
  write_scene_video(video, 60, 96, 64);
  DemoProcess sender({"detector", "demo", m.data, m.cfg, m.weights, video, "-dont_show", "-benchmark",
                      "-mjpeg_port", "0", "-wait_for_client"});
  const int port = port_from(sender, "MJPEG stream");
  ASSERT_GT(port, 0) << sender.out() << sender.err();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/stream.mjpg";
  DemoProcess receiver({"detector", "demo", m.data, m.cfg, m.weights, url, "-dont_show", "-json_port", "0"});
  ASSERT_EQ(receiver.wait_exit(60), 0) << receiver.out() << receiver.err();
  ASSERT_EQ(sender.wait_exit(60), 0) << sender.out() << sender.err();
  const std::string out = receiver.out();
  EXPECT_NE(out.find("Video source: " + url + ", 96x64"), std::string::npos) << out;
  EXPECT_NE(out.find("(live: stale frames are dropped)"), std::string::npos) << out;
  std::smatch done;
  ASSERT_TRUE(std::regex_search(out, done, std::regex("Done \\(end of stream\\): ([0-9]+) frames"))) << out;
  EXPECT_GE(std::stoi(done[1].str()), 1);
  EXPECT_LE(std::stoi(done[1].str()), 60);
}

// A failing command: non-zero exit (not a crash), exactly one line on stderr, naming `needle`.
void expect_one_line_error(DemoProcess& p, const std::string& needle) {
  const int code = p.wait_exit(60);
  const std::string err = p.err();
  EXPECT_GT(code, 0) << p.out() << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(err.rfind("mishnet: error: ", 0), 0u) << err;
  EXPECT_NE(err.find(needle), std::string::npos) << err;
}

TEST(DemoCli, SourcesAndPortsThatFailAreOneLineErrors) {
  MISHNET_REQUIRE_FASHION_MNIST();
  const std::string dir = test::scratch_dir("demo_cli_errors");
  ModelFiles m = write_model(dir, kTinyYoloCfg);
  const std::vector<std::string> base = {"detector", "demo", m.data, m.cfg, m.weights, "-dont_show"};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<DemoProcess>(args);
  };
  if (!std::filesystem::exists("/dev/video57"))
    expect_one_line_error(*run({"-c", "57"}), "camera 57: cannot open it; tried /dev/video57 with V4L2");
  expect_one_line_error(*run({dir + "/nope.avi"}), dir + "/nope.avi: no such file");
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/video.mjpg";
  expect_one_line_error(*run({url}), url + ": unreachable: ");
  expect_one_line_error(*run({"-c", "1", dir + "/x.avi"}), "not both");

  const std::string video = dir + "/scenes.avi";
  write_scene_video(video, 2, 64, 48);
  expect_one_line_error(*run({video, "-out_filename", dir + "/out.gif"}), "out.gif: cannot tell the video format");
  if (demo::http_servers_available()) {
    Listener taken;
    expect_one_line_error(*run({video, "-mjpeg_port", std::to_string(taken.port())}),
                          "port " + std::to_string(taken.port()) + " on 127.0.0.1 is already in use");
  }
}

}  // namespace
}  // namespace mishnet
#endif
