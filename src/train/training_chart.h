// chart.png: the loss curve (and accuracy or mAP points) redrawn as training goes, and the CSV
// log beside it.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace mishnet {

class TrainingChart {
 public:
  // `metric_name` labels the second curve ("top-1", "mAP@0.5"); empty for none.
  // `start_iteration` is where this run begins (a resumed run: the checkpoint's iteration). The
  // CSV log's rows up to it are read back, so the chart shows the whole history; rows after it
  // (iterations the run is about to redo) leave the log, which is rewritten (temporary file and
  // rename) after the old one is kept as CSV.before_resume. Throws on an unreadable row, naming
  // the file and line.
  TrainingChart(std::string png_path, std::string csv_path, int64_t max_batches,
                std::string metric_name, int64_t start_iteration = 0);
  void add_loss(int64_t iteration, float loss, float average_loss, float learning_rate,
                double images_per_second);
  void add_metric(int64_t iteration, double value);
  // Redraws the PNG (OpenCV builds; others write the CSV only and say so once).
  void draw() const;

 private:
  std::string png_path_, csv_path_, metric_name_;
  int64_t max_batches_;
  std::vector<std::pair<int64_t, float>> average_loss_;
  std::vector<std::pair<int64_t, double>> metric_;
  std::ofstream csv_;

  void load_history(int64_t start_iteration);
};

}  // namespace mishnet
