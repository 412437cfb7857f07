#include "train/training_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <iostream>

#include "core/temporary_path.h"
#include "mishnet/error.h"

#ifdef MISHNET_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace mishnet {

namespace {

constexpr const char* kCsvHeader = "iteration,loss,average_loss,learning_rate,images_per_second,metric";

// Fields of one CSV row (no quoting: the log holds numbers only).
std::vector<std::string> split_row(const std::string& line) {
  std::vector<std::string> fields(1);
  for (char c : line) {
    if (c == ',') fields.emplace_back();
    else fields.back() += c;
  }
  return fields;
}

}  // namespace

TrainingChart::TrainingChart(std::string png_path, std::string csv_path, int64_t max_batches,
                             std::string metric_name, int64_t start_iteration)
    : png_path_(std::move(png_path)),
      csv_path_(std::move(csv_path)),
      metric_name_(std::move(metric_name)),
      max_batches_(std::max<int64_t>(1, max_batches)) {
  load_history(start_iteration);
  csv_.open(csv_path_, std::ios::app);
  if (!csv_) fail(csv_path_, ": cannot open the training log for writing");
  csv_.seekp(0, std::ios::end);
  if (csv_.tellp() == 0) csv_ << kCsvHeader << '\n';
}

void TrainingChart::load_history(int64_t start_iteration) {
  std::ifstream in(csv_path_);
  if (!in) return;  // a fresh log
  std::string line, kept;
  bool dropped = false;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line_number == 1) {
      if (line != kCsvHeader)
        fail(csv_path_, ":1: not a mishnet training log (header '", line, "', expected '", kCsvHeader,
             "'); move it away or pass another -chart/backup directory");
      kept += line + '\n';
      continue;
    }
    if (line.empty()) continue;
    const std::vector<std::string> f = split_row(line);
    int64_t iteration = 0;
    try {
      if (f.size() != 6) throw std::invalid_argument("fields");
      size_t used = 0;
      iteration = std::stoll(f[0], &used);
      if (used != f[0].size()) throw std::invalid_argument("iteration");
      if (iteration > start_iteration) {
        dropped = true;
        continue;
      }
      if (!f[2].empty()) average_loss_.emplace_back(iteration, std::stof(f[2]));
      if (!f[5].empty()) metric_.emplace_back(iteration, std::stod(f[5]));
    } catch (const std::exception&) {
      fail(csv_path_, ":", line_number, ": not a row of 6 numbers (iteration,loss,average_loss,"
           "learning_rate,images_per_second,metric): '", line, "'");
    }
    kept += line + '\n';
  }
  in.close();
  if (!dropped) return;
  // The rows after the checkpoint are iterations this run redoes: keep the old log aside, then
  // replace it whole.
  std::filesystem::copy_file(csv_path_, csv_path_ + ".before_resume",
                             std::filesystem::copy_options::overwrite_existing);
  const std::string tmp = temporary_path(csv_path_);
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kept;
    if (!out.flush()) fail(tmp, ": cannot write the training log");
  }
  std::filesystem::rename(tmp, csv_path_);
}

void TrainingChart::add_loss(int64_t iteration, float loss, float average_loss,
                             float learning_rate, double images_per_second) {
  average_loss_.emplace_back(iteration, average_loss);
  csv_ << iteration << ',' << loss << ',' << average_loss << ',' << learning_rate << ','
       << images_per_second << ",\n";
  csv_.flush();
}

void TrainingChart::add_metric(int64_t iteration, double value) {
  metric_.emplace_back(iteration, value);
  csv_ << iteration << ",,,,," << value << '\n';
  csv_.flush();
}

void TrainingChart::draw() const {
#ifdef MISHNET_HAVE_OPENCV
  const int W = 1000, H = 700, left = 80, right = 80, top = 40, bottom = 60;
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  const int pw = W - left - right, ph = H - top - bottom;
  float max_loss = 0.0f;
  for (auto& p : average_loss_) max_loss = std::max(max_loss, p.second);
  // Early losses dwarf the rest; cap the axis at a robust maximum (the 5th value onwards).
  if (average_loss_.size() > 10) {
    max_loss = 0.0f;
    for (size_t i = 5; i < average_loss_.size(); ++i)
      max_loss = std::max(max_loss, average_loss_[i].second);
  }
  if (max_loss <= 0.0f) max_loss = 1.0f;
  auto xpos = [&](int64_t it) { return left + int(double(it) / double(max_batches_) * pw); };
  auto ypos = [&](double v, double vmax) {
    return top + ph - int(std::min(1.0, std::max(0.0, v / vmax)) * ph);
  };
  for (int i = 0; i <= 10; ++i) {
    int y = top + ph * i / 10;
    cv::line(img, {left, y}, {left + pw, y}, cv::Scalar(225, 225, 225), 1);
    char label[32];
    std::snprintf(label, sizeof(label), "%.3g", max_loss * (10 - i) / 10.0);
    cv::putText(img, label, {5, y + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1);
    if (!metric_name_.empty()) {
      std::snprintf(label, sizeof(label), "%d%%", (10 - i) * 10);
      cv::putText(img, label, {left + pw + 8, y + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.45,
                  cv::Scalar(0, 0, 200), 1);
    }
  }
  cv::rectangle(img, {left, top}, {left + pw, top + ph}, cv::Scalar(0, 0, 0), 1);
  for (size_t i = 1; i < average_loss_.size(); ++i)
    cv::line(img, {xpos(average_loss_[i - 1].first), ypos(average_loss_[i - 1].second, max_loss)},
             {xpos(average_loss_[i].first), ypos(average_loss_[i].second, max_loss)},
             cv::Scalar(200, 0, 0), 2, cv::LINE_AA);
  for (size_t i = 0; i < metric_.size(); ++i) {
    cv::Point p{xpos(metric_[i].first), ypos(metric_[i].second, 1.0)};
    cv::circle(img, p, 4, cv::Scalar(0, 0, 200), cv::FILLED);
    if (i > 0)
      cv::line(img, {xpos(metric_[i - 1].first), ypos(metric_[i - 1].second, 1.0)}, p,
               cv::Scalar(0, 0, 200), 1, cv::LINE_AA);
  }
  char title[160];
  int64_t it = average_loss_.empty() ? 0 : average_loss_.back().first;
  float loss = average_loss_.empty() ? 0.0f : average_loss_.back().second;
  if (!metric_.empty())
    std::snprintf(title, sizeof(title), "iteration %lld/%lld  avg loss %.4f  %s %.2f%%",
                  static_cast<long long>(it), static_cast<long long>(max_batches_), loss,
                  metric_name_.c_str(), metric_.back().second * 100.0);
  else
    std::snprintf(title, sizeof(title), "iteration %lld/%lld  avg loss %.4f",
                  static_cast<long long>(it), static_cast<long long>(max_batches_), loss);
  cv::putText(img, title, {left, 28}, cv::FONT_HERSHEY_SIMPLEX, 0.65, cv::Scalar(0, 0, 0), 1);
  cv::putText(img, "iteration", {left + pw / 2 - 30, H - 20}, cv::FONT_HERSHEY_SIMPLEX, 0.5,
              cv::Scalar(0, 0, 0), 1);
  std::string tmp = temporary_path(png_path_, ".png");
  if (!cv::imwrite(tmp, img) || std::rename(tmp.c_str(), png_path_.c_str()) != 0)
    fail(png_path_, ": cannot write the training chart");
#else
  static bool said = false;
  if (!said) std::cerr << "mishnet: built without OpenCV: no chart.png, see " << csv_path_ << "\n";
  said = true;
#endif
}

}  // namespace mishnet
