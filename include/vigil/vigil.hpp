// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// Version 0.1.0. SPDX-License-Identifier: Apache-2.0
//
// Umbrella header: everything a server needs — sketches, statistics, the rate predictor,
// the Monitor, the report exports and binary I/O. It needs what the CMake target
// vigil::vigil brings: Eigen 3.3 or later (vigil/model/, which the Monitor uses), {fmt} 9
// or later (vigil/export/; link libfmt, or define FMT_HEADER_ONLY) and a threads library.
// The headers under vigil/sketch/ and vigil/stats/ need only the standard library: include
// them on their own to use them without Eigen or {fmt}.
#pragma once

#include "vigil/config.hpp"
#include "vigil/error.hpp"
#include "vigil/export/html.hpp"
#include "vigil/export/json.hpp"
#include "vigil/export/prometheus.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/io/file.hpp"
#include "vigil/model/arrival_detector.hpp"
#include "vigil/model/loss_attribution.hpp"
#include "vigil/model/rate_predictor.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/monitor.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/category_counts.hpp"
#include "vigil/sketch/log_histogram.hpp"
#include "vigil/sketch/rolling.hpp"
#include "vigil/sketch/tdigest.hpp"
#include "vigil/sketch/time_windows.hpp"
#include "vigil/stats/calibration.hpp"
#include "vigil/stats/change_detectors.hpp"
#include "vigil/stats/classification.hpp"
#include "vigil/stats/distances.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/ks_test.hpp"
#include "vigil/stats/multiple_testing.hpp"
#include "vigil/stats/sketch_comparisons.hpp"
#include "vigil/stats/special_functions.hpp"
#include "vigil/stats/test_result.hpp"
