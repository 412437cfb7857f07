// The MJPEG page as a browser shows it: headless Chromium (Debian's `chromium`) opens
// http://127.0.0.1:PORT/ and takes a screenshot, which must show a decoded frame where the page
// puts the stream. Skipped where Chromium is not installed.
#if MISHNET_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>

#include "demo/stream_servers.h"
#include "demo_test_util.h"

namespace mishnet {
namespace {

using namespace mishnet::test::demo;

std::string find_chromium() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (access(path, X_OK) == 0) return path;
  return "";
}

TEST(DemoBrowser, PageShowsTheStreamInHeadlessChromium) {
  MISHNET_REQUIRE_FASHION_MNIST();
  if (!demo::http_servers_available()) GTEST_SKIP() << "built without cpp-httplib";
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (Debian package chromium)";
  const std::string dir = test::scratch_dir("demo_browser");
  ModelFiles m = write_model(dir, kTinyYoloCfg);
  const std::string video = dir + "/scenes.avi";
  write_scene_video(video, 12, 160, 120);

  // The demo starts once the page's <img> reads the stream, and ends with the file; the image
  // then keeps the last frame and the page finishes loading, which is when Chromium shoots.
  DemoProcess demo({"detector", "demo", m.data, m.cfg, m.weights, video, "-dont_show", "-mjpeg_port", "0",
                    "-wait_for_client", "-out_filename", dir + "/out.avi"});
  const std::string port = demo.wait_for(std::regex("MJPEG stream: http://127\\.0\\.0\\.1:([0-9]+)/"));
  ASSERT_FALSE(port.empty()) << demo.out() << demo.err();
  const std::string shot = dir + "/page.png";
  DemoProcess browser({"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                       "--hide-scrollbars", "--force-device-scale-factor=1", "--window-size=320,200",
                       "--user-data-dir=" + dir + "/chromium-profile", "--screenshot=" + shot,
                       "http://127.0.0.1:" + port + "/"},
                      chromium);
  ASSERT_TRUE(browser.started());
  const int browser_exit = browser.wait_exit(90);
  ASSERT_EQ(demo.wait_exit(60), 0) << demo.out() << demo.err();
  ASSERT_TRUE(std::filesystem::exists(shot)) << "chromium exit " << browser_exit << "\n" << browser.err();

  cv::Mat page = cv::imread(shot, cv::IMREAD_COLOR);
  ASSERT_FALSE(page.empty());
  ASSERT_GE(page.cols, 160);
  ASSERT_GE(page.rows, 32 + 120);
  // The page: a 32-pixel bar, then the image at its natural size on a #202020 background.
  cv::Mat shown = page(cv::Rect(0, 32, 160, 120));
  cv::Mat grey;
  cv::cvtColor(shown, grey, cv::COLOR_BGR2GRAY);
  cv::Mat from_background;
  cv::absdiff(grey, cv::Scalar(32), from_background);
  const double not_background = double(cv::countNonZero(from_background > 8)) / double(grey.total());
  EXPECT_GT(not_background, 0.5) << "the stream's place on the page looks blank; screenshot: " << shot;
  cv::Scalar mean, dev;
  cv::meanStdDev(grey, mean, dev);
  EXPECT_GT(dev[0], 10.0) << "a flat image, not a frame; screenshot: " << shot;

  // The picture is one of the frames the demo wrote (Chromium may paint the last one after its
  // screenshot, so not necessarily the last): JPEG for the stream, Motion JPEG for the file,
  // so the closest frame differs by under 20 grey levels of 255 on average, where another
  // frame (other boxes and labels) differs by 50 or more.
  const std::vector<cv::Mat> written = read_video(dir + "/out.avi");
  ASSERT_EQ(written.size(), 12u);
  double closest = 1e9;
  size_t closest_index = 0;
  for (size_t i = 0; i < written.size(); ++i) {
    cv::Mat diff;
    cv::absdiff(shown, written[i], diff);
    const cv::Scalar per_channel = cv::mean(diff);
    const double mean_diff = (per_channel[0] + per_channel[1] + per_channel[2]) / 3;
    if (mean_diff < closest) {
      closest = mean_diff;
      closest_index = i;
    }
  }
  EXPECT_LT(closest, 20.0) << "closest: frame " << closest_index + 1 << "; screenshot: " << shot;
}

}  // namespace
}  // namespace mishnet
#endif
