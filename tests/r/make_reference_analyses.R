# Reference values for metareview's analyses beyond one pooled estimate, computed with R metafor:
# meta-regression (rma with mods), leave1out, cumul, influence, baujat, regtest, ranktest,
# trimfill, and subgroup analyses with R meta's test for subgroup differences.
#
# Run from the repository root:
#     Rscript tests/r/make_reference_analyses.R
#
# Writes tests/fixtures/analyses/<analysis>.json. Each file records the R, metafor, metadat and
# jsonlite versions, the rma() control settings and, per case, the R call that made the numbers.
# Numbers are written with toJSON(digits = NA) (15 significant digits); NA and non-finite are null.
#
# R meta is not used (it is not installed here); where a case follows R meta's definitions the
# computation is written out below from meta's source (metabias.R: linregcore; trimfill.R;
# subgroup.R: Q.b.common / Q.b.random) and says so in its r_call.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

pdf(NULL)  # baujat() draws; keep its plot off disk
OUT_DIR <- file.path("tests", "fixtures", "analyses")
dir.create(OUT_DIR, recursive = TRUE, showWarnings = FALSE)

CTL <- list(threshold = 1e-12, maxiter = 10000, tol = 1e-12, tau2.max = 1e6)
CTL_TEXT <- "list(threshold = 1e-12, maxiter = 10000, tol = 1e-12, tau2.max = 1e6)"

META <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  rma_control = CTL
)

arr <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA_real_; I(x) }
num <- function(x) { if (is.null(x) || length(x) == 0) return(NA_real_); x <- as.numeric(x)[1]
                     if (!is.finite(x)) NA_real_ else x }

write_fixture <- function(cases, name, description) {
  obj <- c(list(analysis = name, description = description), META, list(cases = cases))
  path <- file.path(OUT_DIR, paste0(name, ".json"))
  writeLines(toJSON(obj, digits = NA, auto_unbox = TRUE, na = "null", null = "null", pretty = TRUE), path)
  cat(sprintf("wrote %s (%d cases)\n", path, length(cases)))
}

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

seed <- read.csv(file.path("tests", "fixtures", "seed_tr.csv"), stringsAsFactors = FALSE)
seed_es <- escalc("PLO", xi = events, ni = n, data = seed)          # add = 1/2 to x = n studies
seed_es$size <- ifelse(seed$n >= 20, "large", "small")               # an illustrative subgroup

bcg <- dat.bcg
bcg_rr <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
bcg_or <- escalc("OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
bcg_lab <- paste(bcg$author, bcg$year)

datasets <- list(
  seed_plo = list(yi = seed_es$yi, vi = seed_es$vi, study = seed$study,
                  covariates = list(size = seed_es$size, n = seed$n),
                  description = "seed treatment response, logit proportions (escalc PLO, add 1/2 to x = n)"),
  bcg_rr = list(yi = bcg_rr$yi, vi = bcg_rr$vi, study = bcg_lab,
                covariates = list(ablat = bcg$ablat, year = bcg$year, alloc = bcg$alloc),
                description = "dat.bcg, log risk ratios"),
  bcg_or = list(yi = bcg_or$yi, vi = bcg_or$vi, study = bcg_lab,
                covariates = list(ablat = bcg$ablat, year = bcg$year, alloc = bcg$alloc),
                counts = list(events_e = bcg$tpos, n_e = bcg$tpos + bcg$tneg,
                              events_c = bcg$cpos, n_c = bcg$cpos + bcg$cneg),
                description = "dat.bcg, log odds ratios")
)
data_json <- lapply(datasets, function(d) {
  out <- list(study = I(d$study), yi = arr(d$yi), vi = arr(d$vi), description = d$description,
              covariates = lapply(d$covariates, function(x) if (is.numeric(x)) arr(x) else I(x)))
  if (!is.null(d$counts)) out$counts <- lapply(d$counts, arr)
  out
})

fit_rma <- function(d, method, test = "z", ...) rma(d$yi, d$vi, method = method, test = test, control = CTL, ...)

# ---------------------------------------------------------------------------------------------
# Meta-regression
# ---------------------------------------------------------------------------------------------

coef_block <- function(f) {
  list(names = I(rownames(f$beta)), estimate = arr(f$beta), se = arr(f$se), statistic = arr(f$zval),
       p = arr(f$pval), ci_low = arr(f$ci.lb), ci_high = arr(f$ci.ub))
}

mr_case <- function(fm, method, test) {
  d <- datasets$bcg_rr
  df <- data.frame(yi = d$yi, vi = d$vi, ablat = bcg$ablat, year = bcg$year, alloc = bcg$alloc)
  f <- rma(yi, vi, mods = as.formula(fm), data = df, method = method, test = test, control = CTL)
  case <- list(case = paste("bcg_rr", fm, method, test), dataset = "bcg_rr", formula = fm,
               method = method, test = test,
               r_call = sprintf('rma(yi, vi, mods = %s, data = dat, method = "%s", test = "%s", control = %s)',
                                fm, method, test, CTL_TEXT),
               coefficients = coef_block(f), tau2 = num(f$tau2), qm = num(f$QM), qm_p = num(f$QMp),
               qm_df = arr(f$QMdf), qe = num(f$QE), qe_p = num(f$QEp), i2 = num(f$I2), h2 = num(f$H2),
               r2 = num(f$R2), k = f$k, p = f$p)
  list(fit = f, case = case)
}

mr_cases <- list()
formulas <- list("~ ablat", "~ ablat + factor(alloc)", "~ year + ablat", "~ factor(alloc)",
                 "~ factor(alloc) - 1")
for (fm in formulas) {
  for (method in c("DL", "HE", "HS", "SJ", "PM", "ML", "REML", "EB")) {
    for (test in c("z", "knha")) {
      one <- mr_case(fm, method, test)
      f <- one$fit
      case <- one$case
      if (fm == "~ ablat") {
        pr <- predict(f, newmods = c(10, 30, 50))
        case$predict <- list(newmods = list(ablat = I(c(10, 30, 50))), pred = arr(pr$pred), se = arr(pr$se),
                             ci_low = arr(pr$ci.lb), ci_high = arr(pr$ci.ub), pi_low = arr(pr$pi.lb),
                             pi_high = arr(pr$pi.ub))
      }
      if (fm == "~ ablat + factor(alloc)") {
        pr <- predict(f, newmods = rbind(c(20, 1, 0), c(40, 0, 1), c(33, 0, 0)))
        case$predict <- list(newmods = list(ablat = I(c(20, 40, 33)), alloc = I(c("random", "systematic", "alternate"))),
                             pred = arr(pr$pred), se = arr(pr$se), ci_low = arr(pr$ci.lb), ci_high = arr(pr$ci.ub),
                             pi_low = arr(pr$pi.lb), pi_high = arr(pr$pi.ub))
      }
      mr_cases[[length(mr_cases) + 1]] <- case
    }
  }
}
# formulas beyond main effects (read through formulaic): interactions, I(), another
# reference level, a character column, metafor's coefficient names
formulas2 <- list("~ ablat * year", "~ ablat:year", "~ ablat * factor(alloc)", "~ I(ablat^2) + ablat",
                  "~ I(year - 1900)", '~ relevel(factor(alloc), ref = "random") + ablat', "~ alloc",
                  "~ factor(alloc):ablat", "~ I(ablat/10)*year", "~ ablat + I(ablat^2) - 1")
for (fm in formulas2) {
  for (method in c("DL", "PM", "REML")) {
    for (test in c("z", "knha")) {
      one <- mr_case(fm, method, test)
      f <- one$fit
      case <- one$case
      if (fm == "~ ablat * factor(alloc)") {
        pr <- predict(f, newmods = rbind(c(20, 1, 0, 20, 0), c(40, 0, 1, 0, 40), c(33, 0, 0, 0, 0)))
        case$predict <- list(newmods = list(ablat = I(c(20, 40, 33)), alloc = I(c("random", "systematic", "alternate"))),
                             pred = arr(pr$pred), se = arr(pr$se), ci_low = arr(pr$ci.lb), ci_high = arr(pr$ci.ub),
                             pi_low = arr(pr$pi.lb), pi_high = arr(pr$pi.ub))
      }
      mr_cases[[length(mr_cases) + 1]] <- case
    }
  }
}
# the intercept-only model (metafor fits the random-effects model; its QM is the test of the
# intercept, which print.rma omits as it omits every QM of a single coefficient) and models
# without an intercept written the other ways R allows
for (fm in list("~ 1", "~ 0 + ablat", "~ -1 + ablat", "~ 0 + factor(alloc)")) {
  for (method in c("DL", "PM", "REML")) {
    for (test in c("z", "knha")) {
      mr_cases[[length(mr_cases) + 1]] <- mr_case(fm, method, test)$case
    }
  }
}
# the fixed-effects model with moderators (no residual tau²; R² is lm's adjusted R² with the
# inverse-variance weights, as rma.uni computes it for FE models)
for (fm in list("~ ablat", "~ ablat + factor(alloc)", "~ year + ablat", "~ factor(alloc) - 1", "~ 1")) {
  for (test in c("z", "knha")) {
    mr_cases[[length(mr_cases) + 1]] <- mr_case(fm, "FE", test)$case
  }
}
write_fixture(list(data = data_json, cases = mr_cases)$cases, "metareg",
              "rma(mods = ...) on dat.bcg log risk ratios: numeric and factor moderators, eight estimators, z and knha; interactions, I(), relevel() and a character column with DL, PM and REML; the intercept-only model and models without an intercept; FE models")
# the data sets are written once, beside the cases
writeLines(toJSON(c(META, list(datasets = data_json)), digits = NA, auto_unbox = TRUE, na = "null",
                  null = "null", pretty = TRUE), file.path(OUT_DIR, "datasets.json"))

# ---------------------------------------------------------------------------------------------
# Leave-one-out, cumulative, influence, Baujat
# ---------------------------------------------------------------------------------------------

l1o_cases <- list(); cum_cases <- list(); inf_cases <- list(); bj_cases <- list()
for (ds in c("seed_plo", "bcg_rr")) {
  d <- datasets[[ds]]
  for (method in c("FE", "DL", "REML", "PM")) {
    for (test in c("z", "knha")) {
      if (method == "FE" && test == "knha") next
      f <- fit_rma(d, method, test)
      call <- sprintf('fit <- rma(yi, vi, method = "%s", test = "%s", control = %s)', method, test, CTL_TEXT)
      l <- leave1out(f)
      l1o_cases[[length(l1o_cases) + 1]] <- list(
        case = paste(ds, method, test), dataset = ds, method = method, test = test,
        r_call = paste0(call, "; leave1out(fit)"),
        estimate = arr(l$estimate), se = arr(l$se), statistic = arr(if (is.null(l$zval)) l$tval else l$zval), p = arr(l$pval),
        ci_low = arr(l$ci.lb), ci_high = arr(l$ci.ub), q = arr(l$Q), q_p = arr(l$Qp), tau2 = arr(l$tau2),
        i2 = arr(l$I2), h2 = arr(l$H2))
      ord <- if (ds == "bcg_rr") bcg$year else seed$n
      order_by <- if (ds == "bcg_rr") "year" else "n"
      cm <- cumul(f, order = ord)
      cum_cases[[length(cum_cases) + 1]] <- list(
        case = paste(ds, method, test), dataset = ds, method = method, test = test, order_by = order_by,
        r_call = paste0(call, sprintf("; cumul(fit, order = dat$%s)", order_by)),
        study = I(as.character(d$study[order(ord)])),
        estimate = arr(cm$estimate), se = arr(cm$se), statistic = arr(if (is.null(cm$zval)) cm$tval else cm$zval), p = arr(cm$pval),
        ci_low = arr(cm$ci.lb), ci_high = arr(cm$ci.ub), q = arr(cm$Q), q_p = arr(cm$Qp), tau2 = arr(cm$tau2),
        i2 = arr(cm$I2), h2 = arr(cm$H2))
      inf <- influence(f)
      inf_cases[[length(inf_cases) + 1]] <- list(
        case = paste(ds, method, test), dataset = ds, method = method, test = test,
        r_call = paste0(call, "; influence(fit)"),
        rstudent = arr(inf$inf$rstudent), dffits = arr(inf$inf$dffits), cook_d = arr(inf$inf$cook.d),
        cov_r = arr(inf$inf$cov.r), tau2_del = arr(inf$inf$tau2.del), qe_del = arr(inf$inf$QE.del),
        hat = arr(inf$inf$hat), weight = arr(inf$inf$weight), dfbetas = arr(inf$dfbs$intrcpt),
        influential = I(as.logical(inf$is.infl)))
      bj <- baujat(f)
      bj_cases[[length(bj_cases) + 1]] <- list(
        case = paste(ds, method, test), dataset = ds, method = method, test = test,
        r_call = paste0(call, "; baujat(fit)"), x = arr(bj$x), y = arr(bj$y))
    }
  }
}
# influence() of meta-regressions (dfbetas: one column per coefficient)
for (fm in c("~ ablat", "~ ablat + factor(alloc)")) {
  for (method in c("DL", "REML")) {
    for (test in c("z", "knha")) {
      d <- datasets$bcg_rr
      df <- data.frame(yi = d$yi, vi = d$vi, ablat = bcg$ablat, alloc = bcg$alloc)
      f <- rma(yi, vi, mods = as.formula(fm), data = df, method = method, test = test, control = CTL)
      inf <- influence(f)
      inf_cases[[length(inf_cases) + 1]] <- list(
        case = paste("bcg_rr", fm, method, test), dataset = "bcg_rr", formula = fm, method = method, test = test,
        r_call = sprintf('influence(rma(yi, vi, mods = %s, data = dat, method = "%s", test = "%s", control = %s))',
                         fm, method, test, CTL_TEXT),
        rstudent = arr(inf$inf$rstudent), dffits = arr(inf$inf$dffits), cook_d = arr(inf$inf$cook.d),
        cov_r = arr(inf$inf$cov.r), tau2_del = arr(inf$inf$tau2.del), qe_del = arr(inf$inf$QE.del),
        hat = arr(inf$inf$hat), weight = arr(inf$inf$weight),
        dfbetas = lapply(seq_len(f$p), function(j) arr(unclass(inf$dfbs)[[j]])), dfbetas_names = I(rownames(f$beta)),
        influential = I(as.logical(inf$is.infl)))
    }
  }
}
write_fixture(l1o_cases, "leave1out", "metafor leave1out() on seed PLO and dat.bcg log RR")
write_fixture(cum_cases, "cumul", "metafor cumul() ordered by a column (stable order, ties kept in data order)")
write_fixture(inf_cases, "influence", "metafor influence(): rstudent, dffits, cook.d, cov.r, tau2.del, QE.del, hat, weight, dfbetas")
write_fixture(bj_cases, "baujat", "metafor baujat() coordinates (the model of the fit)")

# ---------------------------------------------------------------------------------------------
# Tests for small-study effects
# ---------------------------------------------------------------------------------------------

bias_cases <- list()
for (ds in c("seed_plo", "bcg_rr", "bcg_or")) {
  d <- datasets[[ds]]
  for (method in c("DL", "REML")) {
    f <- fit_rma(d, method)
    fk <- fit_rma(d, method, "knha")
    call <- sprintf('fit <- rma(yi, vi, method = "%s", control = %s)', method, CTL_TEXT)
    lm_t <- regtest(f, model = "lm")
    sm <- coef(summary(lm_t$fit))
    rma_z <- regtest(f)
    rma_k <- regtest(fk)
    # Thompson-Sharp as R meta's linregcore(model = "rma"): rma(mods = sei, test = "t")
    ts <- rma(d$yi, d$vi, mods = ~ sqrt(d$vi), method = method, test = "t", control = CTL)
    rk <- ranktest(f)
    rk_normal <- suppressWarnings(ranktest(f, exact = FALSE))
    case <- list(
      case = paste(ds, method), dataset = ds, method = method,
      r_call = paste0(call, '; regtest(fit, model = "lm"); regtest(fit); regtest(update(fit, test = "knha")); ',
                      'rma(yi, vi, mods = ~ sqrt(vi), method, test = "t") [meta Thompson]; ranktest(fit); ',
                      'ranktest(fit, exact = FALSE)'),
      egger = list(statistic = num(lm_t$zval), df = num(lm_t$dfs), p = num(lm_t$pval),
                   bias = num(sm[2, 1]), se_bias = num(sm[2, 2]), estimate = num(lm_t$est),
                   ci_low = num(lm_t$ci.lb), ci_high = num(lm_t$ci.ub)),
      egger_rma_z = list(statistic = num(rma_z$zval), p = num(rma_z$pval), bias = num(rma_z$fit$beta[2]),
                         se_bias = num(rma_z$fit$se[2]), estimate = num(rma_z$est), ci_low = num(rma_z$ci.lb),
                         ci_high = num(rma_z$ci.ub), tau2 = num(rma_z$fit$tau2)),
      egger_rma_knha = list(statistic = num(rma_k$zval), df = num(rma_k$dfs), p = num(rma_k$pval),
                            bias = num(rma_k$fit$beta[2]), se_bias = num(rma_k$fit$se[2]),
                            estimate = num(rma_k$est), ci_low = num(rma_k$ci.lb), ci_high = num(rma_k$ci.ub)),
      thompson_sharp = list(statistic = num(ts$zval[2]), df = num(ts$ddf), p = num(ts$pval[2]),
                            bias = num(ts$beta[2]), se_bias = num(ts$se[2]), tau2 = num(ts$tau2)),
      begg = list(tau = num(rk$tau), p = num(rk$pval), p_normal = num(rk_normal$pval))
    )
    if (!is.null(d$counts)) {
      # Peters' test as R meta's metabias(method.bias = "Peters"): lm(TE ~ I(1/N), weights = 1/vP)
      cn <- d$counts
      vP <- 1 / (cn$events_e + cn$events_c) + 1 / (cn$n_e - cn$events_e + cn$n_c - cn$events_c)
      invN <- 1 / (cn$n_e + cn$n_c)
      pf <- lm(d$yi ~ invN, weights = 1 / vP)
      cp <- coef(summary(pf))
      case$peters <- list(statistic = num(cp[2, 3]), df = num(pf$df.residual), p = num(cp[2, 4]),
                          bias = num(cp[2, 1]), se_bias = num(cp[2, 2]), estimate = num(cp[1, 1]))
      case$r_call <- paste0(case$r_call, "; lm(yi ~ I(1/N), weights = 1/(1/(a+c) + 1/(b+d))) [meta Peters]")
    }
    bias_cases[[length(bias_cases) + 1]] <- case
  }
}
write_fixture(bias_cases, "bias", "regtest (lm and rma, z and knha), Thompson-Sharp, ranktest, Peters")

# ---------------------------------------------------------------------------------------------
# Trim-and-fill
# ---------------------------------------------------------------------------------------------
# iterate = "random": metafor's trimfill() on the random-effects fit (iterations and final fit with
# the fit's method). iterate = "common": trimfill() on the FE fit gives the iterations with the
# common-effect model (R meta's ma.common = TRUE); the filled data are then pooled with the
# random-effects estimator (rma on yi/vi of the filled fit), as R meta pools the filled data.

tf_cases <- list()
for (ds in c("seed_plo", "bcg_rr")) {
  d <- datasets[[ds]]
  for (method in c("DL", "REML")) {
    for (iterate in c("random", "common")) {
      for (estimator in c("L0", "R0")) {
        for (side in list(NULL, "left", "right")) {
          it_method <- if (iterate == "common") "FE" else method
          f <- fit_rma(d, it_method)
          tf <- tryCatch(suppressWarnings(
            if (is.null(side)) trimfill(f, estimator = estimator, control = CTL) else
              trimfill(f, estimator = estimator, side = side, control = CTL)),
            error = function(e) NULL)
          if (is.null(tf)) {
            cat("trimfill failed:", ds, method, iterate, estimator, if (is.null(side)) "auto" else side, "\n")
            next
          }
          fill_fit <- rma(tf$yi, tf$vi, method = method, control = CTL)
          fill_fe <- rma(tf$yi, tf$vi, method = "FE", control = CTL)
          tf_cases[[length(tf_cases) + 1]] <- list(
            case = paste(ds, method, iterate, estimator, if (is.null(side)) "auto" else side),
            dataset = ds, method = method, iterate = iterate, estimator = estimator,
            side_requested = if (is.null(side)) NA else side,
            r_call = sprintf('trimfill(rma(yi, vi, method = "%s", control = CTL), estimator = "%s"%s, control = CTL); rma(filled yi, vi, method = "%s")',
                             it_method, estimator, if (is.null(side)) "" else sprintf(', side = "%s"', side), method),
            k0 = tf$k0, se_k0 = num(tf$se.k0), side = tf$side, p_k0 = num(tf$p.k0),
            filled_yi = arr(tf$yi[tf$fill]), filled_vi = arr(tf$vi[tf$fill]),
            random = list(estimate = num(fill_fit$beta), se = num(fill_fit$se), ci_low = num(fill_fit$ci.lb),
                          ci_high = num(fill_fit$ci.ub), tau2 = num(fill_fit$tau2)),
            common = list(estimate = num(fill_fe$beta), se = num(fill_fe$se), ci_low = num(fill_fe$ci.lb),
                          ci_high = num(fill_fe$ci.ub)))
        }
      }
    }
  }
}
write_fixture(tf_cases, "trimfill", "metafor trimfill(): L0 and R0, sides, iterations with the common or the random-effects model")

# ---------------------------------------------------------------------------------------------
# Subgroups, with R meta's test for subgroup differences
# ---------------------------------------------------------------------------------------------
# meta (subgroup.R): Q.b.common = metagen(TE.common.w, seTE.common.w)$Q and
# Q.b.random = metagen(TE.random.w, seTE.random.w)$Q, i.e. Cochran's Q of the subgroup estimates
# with weights 1/se², on (number of subgroups - 1) df. tau.common = TRUE: tau² is the residual tau²
# of rma.uni(TE, seTE, mods = ~ subgroup, method = method.tau) (meta's hetcalc), and every subgroup
# is pooled with it (tau.preset).

sg_cases <- list()
sg_specs <- list(list(ds = "bcg_rr", by = "alloc", g = bcg$alloc),
                 list(ds = "seed_plo", by = "size", g = seed_es$size))
for (sp in sg_specs) {
  d <- datasets[[sp$ds]]
  levs <- unique(sp$g)
  for (method in c("DL", "REML", "PM")) {
    for (tau_common in c(FALSE, TRUE)) {
      tau2c <- NA_real_
      if (tau_common) {
        tau2c <- rma(d$yi, d$vi, mods = ~ factor(sp$g), method = method, control = CTL)$tau2
      }
      groups <- list()
      est_c <- se_c <- est_r <- se_r <- numeric(0)
      for (lv in levs) {
        sel <- sp$g == lv
        fe <- rma(d$yi[sel], d$vi[sel], method = "FE", control = CTL)
        re <- if (tau_common) rma(d$yi[sel], d$vi[sel], tau2 = tau2c, method = method, control = CTL) else
          rma(d$yi[sel], d$vi[sel], method = method, control = CTL)
        groups[[length(groups) + 1]] <- list(
          level = lv, k = sum(sel),
          common = list(estimate = num(fe$beta), se = num(fe$se), ci_low = num(fe$ci.lb), ci_high = num(fe$ci.ub)),
          random = list(estimate = num(re$beta), se = num(re$se), ci_low = num(re$ci.lb), ci_high = num(re$ci.ub),
                        p = num(re$pval)),
          tau2 = num(re$tau2), q = num(fe$QE))
        est_c <- c(est_c, fe$beta); se_c <- c(se_c, fe$se); est_r <- c(est_r, re$beta); se_r <- c(se_r, re$se)
      }
      qb_c <- rma(est_c, sei = se_c, method = "FE")$QE
      qb_r <- rma(est_r, sei = se_r, method = "FE")$QE
      dfb <- length(levs) - 1
      sg_cases[[length(sg_cases) + 1]] <- list(
        case = paste(sp$ds, sp$by, method, if (tau_common) "tau_common" else "separate"),
        dataset = sp$ds, by = sp$by, method = method, tau_common = tau_common, tau2_common = num(tau2c),
        r_call = paste0("per level: rma(yi, vi, method = 'FE'), rma(yi, vi, method = '", method, "'",
                        if (tau_common) ", tau2 = rma(yi, vi, mods = ~ factor(g))$tau2" else "",
                        "); Q.b = rma(est, sei = se, method = 'FE')$QE (meta's subgroup.R)"),
        levels = I(levs), groups = groups,
        test = list(common = list(q = num(qb_c), df = dfb, p = num(pchisq(qb_c, dfb, lower.tail = FALSE))),
                    random = list(q = num(qb_r), df = dfb, p = num(pchisq(qb_r, dfb, lower.tail = FALSE)))))
    }
  }
}
write_fixture(sg_cases, "subgroups", "subgroup analyses: separate fits per level and R meta's Q between subgroups")
